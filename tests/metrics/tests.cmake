titand_add_test(metrics_test
  ${CMAKE_CURRENT_LIST_DIR}/registry_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_metrics_test.cc)
