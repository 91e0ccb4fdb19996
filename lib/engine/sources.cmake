target_sources(titand_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/engine_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/execution_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/result_record.cc
  ${CMAKE_CURRENT_LIST_DIR}/scheduler.cc)
