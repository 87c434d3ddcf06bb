// demo.yaml shrunk for end-to-end runs of the binary in seconds: tiny model, few items, short
// outputs. Shared by the CPU and the CUDA integration tests.
#pragma once

namespace principia::testing {

inline constexpr const char* kTinyDemoOverrides =
    " data.synth_options.train_items=200 data.synth_options.eval_items=6"
    " tokenizer.train_vocab_size=400"
    " model.hidden_size=32 model.intermediate_size=64 model.num_layers=1 model.num_heads=2"
    " model.num_kv_heads=1 model.head_dim=16"
    " rollout.group_size=4 rollout.batch_size=3 rollout.max_new_tokens=12"
    " trainer.sft_steps=2 trainer.sft_batch_size=4 trainer.max_steps=4"
    " checkpoint.every=2 eval.max_items=6 algorithm.kl_coef=0.01";

}  // namespace principia::testing
