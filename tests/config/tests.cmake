titand_add_test(config_test ${CMAKE_CURRENT_LIST_DIR}/config_test.cc)
