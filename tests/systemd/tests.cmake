titand_add_test(systemd_unit_test ${CMAKE_CURRENT_LIST_DIR}/unit_test.cc)
