# bare_curl_bench: the libcurl multi baseline that bench/e2e/run.py runs next to titand. It
# links only libcurl (and CLI11, fmt for its options and output), not titand_core.
add_executable(bare_curl_bench ${CMAKE_CURRENT_LIST_DIR}/bare_curl_bench.cc)
target_link_libraries(bare_curl_bench PRIVATE PkgConfig::LIBCURL CLI11::CLI11 fmt::fmt)
