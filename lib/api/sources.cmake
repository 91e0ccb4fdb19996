target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/api_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/export.cc
  ${CMAKE_CURRENT_LIST_DIR}/responses.cc
  ${CMAKE_CURRENT_LIST_DIR}/routes.cc)
