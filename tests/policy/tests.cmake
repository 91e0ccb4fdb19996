titand_add_test(policy_test
  ${CMAKE_CURRENT_LIST_DIR}/token_bucket_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/backoff_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/retry_after_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/retry_policy_test.cc)
