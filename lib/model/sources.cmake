target_sources(titand_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/model.cc)
