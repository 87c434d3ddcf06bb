// The judge task as the trainer sees it: a dataset record becomes a tokenized judge prompt
// (candidates shown as model-1..k in a chosen order), a gold item for the rewards, and, for
// supervised warm-start, the target judgment the model should write. No LibTorch here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "data/prompt/chat_template.h"
#include "data/prompt/judge_prompt.h"
#include "data/record.h"
#include "model/tokenizer/tokenizer.h"
#include "rewards/gold.h"
#include "rewards/judgment.h"

namespace principia::trainer {

// Everything needed to turn records into token ids and back: tokenizer, templates, stop ids.
class JudgeFormat {
 public:
  JudgeFormat(std::shared_ptr<const tokenizer::Tokenizer> tok, prompt::PromptTemplate templ,
              prompt::ChatTemplate chat);
  static JudgeFormat from_config(const config::Config& cfg,
                                 std::shared_ptr<const tokenizer::Tokenizer> tok);

  const tokenizer::Tokenizer& tokenizer() const { return *tok_; }
  const prompt::PromptTemplate& prompt_template() const { return templ_; }
  prompt::ChatTemplate chat() const { return chat_; }
  // Token ids that end the assistant turn (<|im_end|>, <|eot_id|>, or the tokenizer's EOS).
  const std::vector<int64_t>& stop_ids() const { return stop_ids_; }

  // The rendered prompt for `record` with `permutation` (shown i -> record response index).
  prompt::RenderedPrompt render(const data::Record& record, const std::vector<size_t>& permutation) const;
  std::vector<int32_t> prompt_ids(const prompt::RenderedPrompt& rendered) const;
  // Token length of the prompt in dataset order (for the loader's length filter).
  size_t prompt_length(const data::Record& record) const;

  // The target judgment for SFT, in shown names: reasoning + {"scores", "best-to-worst"}.
  std::vector<int32_t> target_ids(const data::Record& record, const prompt::RenderedPrompt& rendered,
                                  const std::string& reasoning) const;
  // Generated ids -> text (the stop token dropped).
  std::string decode_response(const std::vector<int64_t>& ids) const;

 private:
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  prompt::PromptTemplate templ_;
  prompt::ChatTemplate chat_;
  std::vector<int64_t> stop_ids_;
};

// The gold item the rewards compare against.
rewards::Gold gold_of(const data::Record& record);

// A candidate order for sample `sample` of item `item_index` at `step`: a fresh, seeded
// permutation per sample, reproducible from (seed, step, item, sample).
std::vector<size_t> sample_permutation(uint64_t seed, int64_t step, int64_t item_index,
                                       int64_t sample, size_t k);

// The answer JSON SFT imitates, in shown names, as the judge prompt asks for it:
// {"scores": {"model-1": 4, ...}, "best-to-worst": ["model-2", ...]}. Scores are the record's
// `meta.teacher_scores` when it carries them (a teacher's judgment: response id -> score; SFT
// distils the teacher while GRPO's reward stays on the gold), else the gold: then it is a
// perfect judgment. Throws principia::Error naming the record for malformed
// teacher_scores.
std::string sft_answer_json(const data::Record& record, const prompt::RenderedPrompt& rendered);

// Reasoning text for SFT: `meta.reasoning` when the record carries one; for the synthetic task,
// the counted attribute level of each shown candidate; otherwise a short generic sentence.
std::string sft_reasoning(const data::Record& record, const prompt::RenderedPrompt& rendered);

}  // namespace principia::trainer
