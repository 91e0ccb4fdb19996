target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/registry.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_metrics.cc)
