#include "data/prompt/chat_template.h"

#include "core/error.h"
#include "core/text.h"

namespace principia::prompt {

namespace {

// Merges adjacent text segments so encoding matches a tokenizer that splits specials first.
void add(std::vector<ChatSegment>& out, std::string text, bool special) {
  if (text.empty()) return;
  if (!special && !out.empty() && !out.back().special) {
    out.back().text += text;
  } else {
    out.push_back({std::move(text), special});
  }
}

// Jinja's `trim`: strips leading and trailing whitespace.
std::string jinja_trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

ChatTemplate parse_chat_template(std::string_view name) {
  if (name == "qwen3" || name == "chatml") return ChatTemplate::kQwen3;
  if (name == "llama3") return ChatTemplate::kLlama3;
  if (name == "plain") return ChatTemplate::kPlain;
  throw Error("unknown chat template '" + std::string(name) + "' (known: qwen3, llama3, plain)");
}

std::string chat_template_name(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::kQwen3:
      return "qwen3";
    case ChatTemplate::kLlama3:
      return "llama3";
    case ChatTemplate::kPlain:
      return "plain";
  }
  return "?";
}

std::vector<ChatSegment> chat_prompt_segments(ChatTemplate t, const std::string& system,
                                              const std::string& user) {
  std::vector<ChatSegment> s;
  switch (t) {
    case ChatTemplate::kQwen3:
      if (!system.empty()) {
        add(s, "<|im_start|>", true);
        add(s, "system\n" + system, false);
        add(s, "<|im_end|>", true);
        add(s, "\n", false);
      }
      add(s, "<|im_start|>", true);
      add(s, "user\n" + user, false);
      add(s, "<|im_end|>", true);
      add(s, "\n", false);
      add(s, "<|im_start|>", true);
      add(s, "assistant\n", false);
      break;
    case ChatTemplate::kLlama3:
      add(s, "<|begin_of_text|>", true);
      for (const auto& [role, content] :
           {std::pair<std::string, const std::string&>{"system", system},
            std::pair<std::string, const std::string&>{"user", user}}) {
        if (role == "system" && content.empty()) continue;
        add(s, "<|start_header_id|>", true);
        add(s, role, false);
        add(s, "<|end_header_id|>", true);
        add(s, "\n\n" + jinja_trim(content), false);
        add(s, "<|eot_id|>", true);
      }
      add(s, "<|start_header_id|>", true);
      add(s, "assistant", false);
      add(s, "<|end_header_id|>", true);
      add(s, "\n\n", false);
      break;
    case ChatTemplate::kPlain:
      if (!system.empty()) add(s, "System: " + system + "\n\n", false);
      add(s, "User: " + user + "\n\nAssistant: ", false);
      break;
  }
  return s;
}

std::vector<ChatSegment> assistant_target_segments(ChatTemplate t, const std::string& reasoning,
                                                   const std::string& answer) {
  std::vector<ChatSegment> s;
  add(s, "<think>", true);
  add(s, "\n" + reasoning + "\n", false);
  add(s, "</think>", true);
  add(s, "\n\n" + answer, false);
  switch (t) {
    case ChatTemplate::kQwen3:
      add(s, "<|im_end|>", true);
      break;
    case ChatTemplate::kLlama3:
      add(s, "<|eot_id|>", true);
      break;
    case ChatTemplate::kPlain:
      break;  // EOS is an id, added by tokenize_example
  }
  return s;
}

std::string join_segments(const std::vector<ChatSegment>& segments) {
  std::string out;
  for (const auto& s : segments) out += s.text;
  return out;
}

std::string chat_template_jinja(ChatTemplate t) {
  // One line, every tag trimming the whitespace before it: nothing but the turns is output. An
  // empty system message is left out, as chat_prompt_segments does.
  switch (t) {
    case ChatTemplate::kQwen3:
      return "{%- for message in messages %}"
             "{%- if message['role'] != 'system' or message['content'] %}"
             "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
             "{%- endif %}{%- endfor %}"
             "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    case ChatTemplate::kLlama3:
      return "{{- '<|begin_of_text|>' }}{%- for message in messages %}"
             "{%- if message['role'] != 'system' or message['content'] %}"
             "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
             "message['content'] | trim + '<|eot_id|>' }}"
             "{%- endif %}{%- endfor %}"
             "{%- if add_generation_prompt %}"
             "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
    case ChatTemplate::kPlain:
      return "{{- bos_token if bos_token else '' }}{%- for message in messages %}"
             "{%- if message['role'] == 'system' %}"
             "{%- if message['content'] %}{{- 'System: ' + message['content'] + '\\n\\n' }}{%- endif %}"
             "{%- elif message['role'] == 'user' %}{{- 'User: ' + message['content'] + '\\n\\n' }}"
             "{%- elif message['role'] == 'assistant' %}"
             "{{- 'Assistant: ' + message['content'] + (eos_token if eos_token else '') + '\\n\\n' }}"
             "{%- endif %}{%- endfor %}"
             "{%- if add_generation_prompt %}{{- 'Assistant: ' }}{%- endif %}";
  }
  return "";
}

std::string end_of_turn_token(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::kQwen3:
      return "<|im_end|>";
    case ChatTemplate::kLlama3:
      return "<|eot_id|>";
    case ChatTemplate::kPlain:
      return "";
  }
  return "";
}

std::vector<int32_t> tokenize_segments(const tokenizer::Tokenizer& tok,
                                       const std::vector<ChatSegment>& segments, bool add_bos) {
  std::vector<int32_t> ids;
  if (add_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  std::string pending;  // text, including think tags the tokenizer lacks, encoded together
  auto flush = [&] {
    if (pending.empty()) return;
    const auto part = tok.encode(pending);
    ids.insert(ids.end(), part.begin(), part.end());
    pending.clear();
  };
  for (const auto& seg : segments) {
    if (!seg.special) {
      pending += seg.text;
      continue;
    }
    const auto id = tok.special_id(seg.text);
    if (id) {
      flush();
      ids.push_back(*id);
    } else if (seg.text == "<think>" || seg.text == "</think>") {
      pending += seg.text;
    } else {
      throw Error("the tokenizer (" + tok.kind() + ") has no special token " + seg.text +
                  " needed by this chat template; use a chat template that matches the model "
                  "(plain for tokenizers without chat tokens)");
    }
  }
  flush();
  return ids;
}

TokenizedExample tokenize_example(const tokenizer::Tokenizer& tok, ChatTemplate t,
                                  const std::string& system, const std::string& user,
                                  const std::string& reasoning, const std::string& answer) {
  TokenizedExample ex;
  ex.prompt_ids =
      tokenize_segments(tok, chat_prompt_segments(t, system, user), t == ChatTemplate::kPlain);
  ex.target_ids = tokenize_segments(tok, assistant_target_segments(t, reasoning, answer));
  if (t == ChatTemplate::kPlain && tok.eos_id() >= 0) ex.target_ids.push_back(tok.eos_id());
  return ex;
}

}  // namespace principia::prompt
