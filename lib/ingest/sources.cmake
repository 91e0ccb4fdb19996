target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/file_ingest.cc
  ${CMAKE_CURRENT_LIST_DIR}/spool.cc)
