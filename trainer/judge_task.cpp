#include "trainer/judge_task.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "data/synth.h"

namespace principia::trainer {

JudgeFormat::JudgeFormat(std::shared_ptr<const tokenizer::Tokenizer> tok,
                         prompt::PromptTemplate templ, prompt::ChatTemplate chat)
    : tok_(std::move(tok)), templ_(std::move(templ)), chat_(chat) {
  auto add = [&](std::optional<int32_t> id) {
    if (id && *id >= 0) stop_ids_.push_back(*id);
  };
  switch (chat_) {
    case prompt::ChatTemplate::kQwen3: add(tok_->special_id("<|im_end|>")); break;
    case prompt::ChatTemplate::kLlama3: add(tok_->special_id("<|eot_id|>")); break;
    case prompt::ChatTemplate::kPlain: break;
  }
  if (tok_->eos_id() >= 0) add(tok_->eos_id());
  if (stop_ids_.empty())
    throw Error("the tokenizer has no end-of-turn token for chat template '" +
                prompt::chat_template_name(chat_) + "' (and no EOS): generation could not stop");
}

JudgeFormat JudgeFormat::from_config(const config::Config& cfg,
                                     std::shared_ptr<const tokenizer::Tokenizer> tok) {
  return JudgeFormat(std::move(tok), prompt::PromptTemplate::from_config(cfg.prompt),
                     prompt::parse_chat_template(cfg.prompt.chat_template));
}

static prompt::JudgeRequest request_of(const data::Record& r) {
  return prompt::JudgeRequest{r.principle, r.prompt, r.responses};
}

prompt::RenderedPrompt JudgeFormat::render(const data::Record& record,
                                           const std::vector<size_t>& permutation) const {
  return templ_.render(request_of(record), permutation);
}

std::vector<int32_t> JudgeFormat::prompt_ids(const prompt::RenderedPrompt& rendered) const {
  return prompt::tokenize_segments(
      *tok_, prompt::chat_prompt_segments(chat_, rendered.system, rendered.user),
      /*add_bos=*/chat_ == prompt::ChatTemplate::kPlain);
}

size_t JudgeFormat::prompt_length(const data::Record& record) const {
  return prompt_ids(render(record, {})).size();
}

std::vector<int32_t> JudgeFormat::target_ids(const data::Record& record,
                                             const prompt::RenderedPrompt& rendered,
                                             const std::string& reasoning) const {
  auto segments =
      prompt::assistant_target_segments(chat_, reasoning, sft_answer_json(record, rendered));
  std::vector<int32_t> ids = prompt::tokenize_segments(*tok_, segments, false);
  // The plain template ends the turn with EOS, which is a token, not text.
  if (chat_ == prompt::ChatTemplate::kPlain && tok_->eos_id() >= 0 &&
      (ids.empty() || ids.back() != tok_->eos_id()))
    ids.push_back(tok_->eos_id());
  return ids;
}

std::string JudgeFormat::decode_response(const std::vector<int64_t>& ids) const {
  std::vector<int32_t> kept;
  kept.reserve(ids.size());
  for (int64_t id : ids) {
    if (std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end()) break;
    kept.push_back(static_cast<int32_t>(id));
  }
  return tok_->decode(kept);
}

rewards::Gold gold_of(const data::Record& record) {
  rewards::Gold g;
  g.names = record.names();
  g.scores = record.scores;
  g.domain = record.domain;
  g.category = record.category;
  return g;
}

std::vector<size_t> sample_permutation(uint64_t seed, int64_t step, int64_t item_index,
                                       int64_t sample, size_t k) {
  Rng rng = Rng::derive(seed, {0x9e7a11ULL, uint64_t(step), uint64_t(item_index), uint64_t(sample)});
  std::vector<size_t> p(k);
  for (size_t i = 0; i < k; ++i) p[i] = i;
  rng.shuffle(p);
  return p;
}

static std::string score_text(double s) {
  if (s == std::floor(s)) return std::to_string(static_cast<int>(s));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

// The scores SFT imitates, in record order: meta.teacher_scores, else the gold.
static std::vector<double> sft_scores(const data::Record& record) {
  if (!record.meta.contains("teacher_scores")) return record.scores;
  const auto& t = record.meta["teacher_scores"];
  const std::string where = "record " + record.id + ": meta.teacher_scores";
  if (!t.is_object() || t.size() != record.responses.size())
    throw Error(where + " must map each of the " + std::to_string(record.responses.size()) +
                " response ids to a score");
  std::vector<double> out;
  for (const auto& [id, text] : record.responses) {
    if (!t.contains(id)) throw Error(where + " has no score for response \"" + id + "\"");
    if (!t[id].is_number() || !std::isfinite(t[id].get<double>()))
      throw Error(where + "." + id + " must be a finite number");
    out.push_back(t[id].get<double>());
  }
  return out;
}

std::string sft_answer_json(const data::Record& record, const prompt::RenderedPrompt& rendered) {
  // Shown names in shown order; ranking by score (stable by shown order on ties).
  const std::vector<double> scores = sft_scores(record);
  std::vector<std::pair<std::string, double>> shown;
  for (const auto& [shown_name, real] : rendered.mapping)
    shown.emplace_back(shown_name, scores[size_t(record.index_of(real))]);
  std::string out = "{\"scores\": {";
  for (size_t i = 0; i < shown.size(); ++i)
    out += (i ? ", \"" : "\"") + shown[i].first + "\": " + score_text(shown[i].second);
  out += "}, \"best-to-worst\": [";
  auto order = shown;
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (size_t i = 0; i < order.size(); ++i) out += (i ? ", \"" : "\"") + order[i].first + "\"";
  return out + "]}";
}

std::string sft_reasoning(const data::Record& record, const prompt::RenderedPrompt& rendered) {
  if (record.meta.contains("reasoning") && record.meta["reasoning"].is_string())
    return record.meta["reasoning"].get<std::string>();
  // Synthetic task: show the counting the principle asks for, candidate by candidate.
  try {
    const data::SynthPrinciple& p = data::synth_principle(record.category);
    std::string s = data::synth_attributes()[size_t(p.attribute)] + (p.more ? " more:" : " fewer:");
    for (const auto& [shown_name, real] : rendered.mapping) {
      const auto& text = record.responses[size_t(record.index_of(real))].second;
      s += " " + shown_name;
      for (const auto& unit : data::synth_evidence(p.attribute, record.prompt, text)) s += " " + unit;
      s += " = " + std::to_string(data::synth_level(p.attribute, record.prompt, text)) + ";";
    }
    return s;
  } catch (const Error&) {
    return "I compare each response against the principle.";
  }
}

}  // namespace principia::trainer
