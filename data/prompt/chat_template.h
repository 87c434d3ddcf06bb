// Chat templates: how a (system, user) judge prompt is framed for a model family, and how the
// assistant's target is written for supervised warm-start, exactly as the model produces it.
//
//   qwen3  <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n
//          <|im_start|>assistant\n            (generation prompt; thinking on: nothing added)
//          target: <think>\n{reasoning}\n</think>\n\n{answer}<|im_end|>
//   llama3 <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system|trim}<|eot_id|>
//          <|start_header_id|>user<|end_header_id|>\n\n{user|trim}<|eot_id|>
//          <|start_header_id|>assistant<|end_header_id|>\n\n
//          target: <think>\n{reasoning}\n</think>\n\n{answer}<|eot_id|>
//   plain  (small SentencePiece models without chat tokens; BOS from the tokenizer)
//          System: {system}\n\nUser: {user}\n\nAssistant:
//          target: <think>\n{reasoning}\n</think>\n\n{answer}  then the tokenizer's EOS id
// The target is tokenized on its own (it is what the model generates after the prompt); with a
// SentencePiece tokenizer that means its first piece carries the dummy-prefix "▁", consistently
// in SFT and in generation.
// Rendering produces segments; special segments become their token ids and text segments are
// encoded as ordinary text, so a response containing "<|im_end|>" cannot inject the control token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace principia::prompt {

enum class ChatTemplate { kQwen3, kLlama3, kPlain };

// "qwen3" | "llama3" | "plain"; throws principia::Error for another name.
ChatTemplate parse_chat_template(std::string_view name);
std::string chat_template_name(ChatTemplate t);

struct ChatSegment {
  std::string text;
  bool special = false;  // a control token of the template, e.g. "<|im_start|>"
};

// The prompt up to and including the generation prompt.
std::vector<ChatSegment> chat_prompt_segments(ChatTemplate t, const std::string& system,
                                              const std::string& user);
// The assistant turn the judge should produce: think block, answer, end-of-turn token.
std::vector<ChatSegment> assistant_target_segments(ChatTemplate t, const std::string& reasoning,
                                                   const std::string& answer);
std::string join_segments(const std::vector<ChatSegment>& segments);

// The template as Jinja for tokenizer_config.json's "chat_template": transformers'
// apply_chat_template(messages, add_generation_prompt=True) on [system?, user] renders exactly
// chat_prompt_segments (plain: preceded by bos_token, the BOS id principia prepends). Assistant
// turns render as the target does: content, then the end-of-turn token (plain: eos_token).
std::string chat_template_jinja(ChatTemplate t);
// The token that ends the assistant's turn: "<|im_end|>", "<|eot_id|>", or "" (plain: the
// tokenizer's EOS).
std::string end_of_turn_token(ChatTemplate t);

inline std::string render_chat(ChatTemplate t, const std::string& system, const std::string& user) {
  return join_segments(chat_prompt_segments(t, system, user));
}
inline std::string render_assistant_target(ChatTemplate t, const std::string& reasoning,
                                           const std::string& answer) {
  return join_segments(assistant_target_segments(t, reasoning, answer));
}

// Segments -> ids. A special segment must be a special token of the tokenizer (principia::Error
// naming it otherwise), except "<think>"/"</think>", which are encoded as text when the tokenizer
// does not register them. add_bos prepends the tokenizer's BOS (plain template only needs it).
std::vector<int32_t> tokenize_segments(const tokenizer::Tokenizer& tok,
                                       const std::vector<ChatSegment>& segments,
                                       bool add_bos = false);

struct TokenizedExample {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> target_ids;  // ends with the end-of-turn id (plain: EOS when present)
};
TokenizedExample tokenize_example(const tokenizer::Tokenizer& tok, ChatTemplate t,
                                  const std::string& system, const std::string& user,
                                  const std::string& reasoning, const std::string& answer);

}  // namespace principia::prompt
