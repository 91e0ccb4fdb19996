target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/token_bucket.cc
  ${CMAKE_CURRENT_LIST_DIR}/backoff.cc
  ${CMAKE_CURRENT_LIST_DIR}/retry_after.cc
  ${CMAKE_CURRENT_LIST_DIR}/retry_policy.cc)
