# ingest_bench: task line parsing and whole-file reads. ndjson_read_rss: reads one generated
# file of N lines and prints the process's peak RSS, for the bounded-memory check.
add_executable(ingest_bench ${CMAKE_CURRENT_LIST_DIR}/ndjson_bench.cc)
target_link_libraries(ingest_bench PRIVATE titand_core benchmark::benchmark)
add_executable(ndjson_read_rss ${CMAKE_CURRENT_LIST_DIR}/ndjson_read_rss_main.cc)
target_link_libraries(ndjson_read_rss PRIVATE titand_core)
