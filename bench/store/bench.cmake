# store_bench: claim and commit costs on a real RocksDB under /tmp (removed when the run ends).
add_executable(store_bench ${CMAKE_CURRENT_LIST_DIR}/queue_bench.cc)
target_link_libraries(store_bench PRIVATE titand_core benchmark::benchmark)
