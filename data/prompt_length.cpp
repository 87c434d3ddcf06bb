#include "data/prompt_length.h"

#include <memory>

#include "data/prompt/chat_template.h"
#include "data/prompt/judge_prompt.h"
#include "model/tokenizer/tokenizer.h"

namespace principia::data {

PromptTokensFn make_prompt_tokens_fn(const std::string& tokenizer_path,
                                     const std::string& template_name,
                                     const std::string& chat_template) {
  std::shared_ptr<tokenizer::Tokenizer> tok = tokenizer::load_tokenizer(tokenizer_path);
  auto tmpl = std::make_shared<prompt::PromptTemplate>(prompt::PromptTemplate::named(template_name));
  prompt::ChatTemplate chat = prompt::parse_chat_template(chat_template);
  return [tok, tmpl, chat](const Record& r) -> size_t {
    prompt::JudgeRequest req{r.principle, r.prompt, r.responses};
    prompt::RenderedPrompt rendered = tmpl->render(req);
    auto segments = prompt::chat_prompt_segments(chat, rendered.system, rendered.user);
    return prompt::tokenize_segments(*tok, segments, chat == prompt::ChatTemplate::kPlain).size();
  };
}

}  // namespace principia::data
