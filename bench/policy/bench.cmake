add_executable(policy_bench ${CMAKE_CURRENT_LIST_DIR}/token_bucket_bench.cc)
target_link_libraries(policy_bench PRIVATE titand_core benchmark::benchmark benchmark::benchmark_main)
