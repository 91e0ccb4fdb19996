titand_add_test(store_test
  ${CMAKE_CURRENT_LIST_DIR}/store_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/queue_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/committer_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/model_test.cc)
