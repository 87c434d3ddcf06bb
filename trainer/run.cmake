# The run orchestration on top of principia_trainer's pieces: judge task, sequences, the GRPO
# step, SFT, evaluation and the `train` / `sft` / `eval` verbs' run().
set(_t ${PROJECT_SOURCE_DIR}/trainer)
principia_library(principia_train_run
  SOURCES ${_t}/judge_task.cpp ${_t}/sequences.cpp ${_t}/grpo_step.cpp ${_t}/sft.cpp
          ${_t}/evaluate.cpp ${_t}/train_run.cpp
  DEPS principia_trainer principia_dist principia_model principia_data principia_prompt principia_rewards
       principia_tokenizer principia_core ${TORCH_LIBRARIES})
principia_use_torch_pch(principia_train_run)
