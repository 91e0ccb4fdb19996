titand_add_test(http_target_test ${CMAKE_CURRENT_LIST_DIR}/http_target_test.cc)
