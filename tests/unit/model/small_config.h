// The small random transformer shape the model unit tests share (vocabulary 97, 3 layers,
// 6 heads over 2 KV heads of 8, EOS 3).
#pragma once

#include "model/model_config.h"

namespace principia::model::testing {

inline TransformerConfig small_config(Arch arch, bool tied = false) {
  TransformerConfig c;
  c.arch = arch;
  c.vocab_size = 97;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.num_layers = 3;
  c.num_heads = 6;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = tied;
  c.eos_token_ids = {3};
  c.bos_token_id = 1;
  return c;
}

}  // namespace principia::model::testing
