target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/task_parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/ndjson_reader.cc
  ${CMAKE_CURRENT_LIST_DIR}/file_ingest.cc
  ${CMAKE_CURRENT_LIST_DIR}/spool.cc)
