titand_add_test(ingest_test
  ${CMAKE_CURRENT_LIST_DIR}/task_parser_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/ndjson_reader_test.cc)
