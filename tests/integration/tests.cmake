titand_add_test(pipeline_test ${CMAKE_CURRENT_LIST_DIR}/pipeline_test.cc)
titand_add_test(crash_test ${CMAKE_CURRENT_LIST_DIR}/crash_test.cc)
titand_add_test(notify_test ${CMAKE_CURRENT_LIST_DIR}/notify_test.cc)
