# titan-target: the loopback HTTP server of the demo and the end-to-end benchmark.
add_executable(titan-target ${CMAKE_CURRENT_LIST_DIR}/titan_target_main.cc)
target_link_libraries(titan-target PRIVATE titand_core CLI11::CLI11)
