add_executable(metrics_bench ${CMAKE_CURRENT_LIST_DIR}/registry_bench.cc)
target_link_libraries(metrics_bench PRIVATE titand_core benchmark::benchmark benchmark::benchmark_main)
