#include "model/tokenizer/sentencepiece_trainer.h"

#include <sentencepiece_trainer.h>

#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "model/tokenizer/utf8.h"

namespace principia::tokenizer {

namespace {

void add_lines(std::string_view text, std::vector<std::string>* out) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out->push_back(replace_invalid_utf8(line));
    pos = eol + 1;
  }
}

bool is_jsonl(const std::string& path) {
  const auto ext = std::filesystem::path(path).extension().string();
  return ext == ".jsonl" || ext == ".json";
}

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& s) : s_(s) {}
  bool done() const override { return i_ >= s_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return s_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& s_;
  size_t i_ = 0;
};

}  // namespace

std::vector<std::string> training_sentences(const std::string& path) {
  std::vector<std::string> out;
  if (!is_jsonl(path)) {
    add_lines(read_file(path), &out);
    return out;
  }
  JsonlReader reader(path);
  while (auto line = reader.next()) {
    const SourceLocation where{path, static_cast<int>(line->line_no), 0};
    if (!line->error.empty()) throw Error(where, "", "not JSON: " + line->error);
    const ordered_json& r = line->value;
    if (!r.is_object()) throw Error(where, "", "expected a record object");
    for (const char* key : {"principle", "prompt"})
      if (r.contains(key) && r[key].is_string()) add_lines(r[key].get<std::string>(), &out);
    if (r.contains("responses")) {
      const ordered_json& rs = r["responses"];
      if (rs.is_object()) {
        for (const auto& [name, text] : rs.items())
          if (text.is_string()) add_lines(text.get<std::string>(), &out);
      } else if (rs.is_array()) {
        for (const auto& pair : rs)
          if (pair.is_array() && pair.size() == 2 && pair[1].is_string())
            add_lines(pair[1].get<std::string>(), &out);
      } else {
        throw Error(where, "responses", "expected an object {name: text}");
      }
    }
  }
  return out;
}

std::string train_sentencepiece(const SentencePieceTrainOptions& o) {
  if (o.inputs.empty()) throw Error("tokenizer train: no input files");
  if (o.out_prefix.empty()) throw Error("tokenizer train: no output prefix");
  if (o.vocab_size < 16) throw Error("tokenizer train: vocab size must be at least 16");
  if (o.model_type != "bpe" && o.model_type != "unigram")
    throw Error("tokenizer train: model type must be bpe or unigram, not '" + o.model_type + "'");
  std::vector<std::string> sentences;
  for (const auto& in : o.inputs) {
    auto s = training_sentences(in);
    sentences.insert(sentences.end(), std::make_move_iterator(s.begin()),
                     std::make_move_iterator(s.end()));
  }
  if (sentences.empty()) throw Error("tokenizer train: the input has no text");
  const auto parent = std::filesystem::path(o.out_prefix).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);

  std::string symbols;
  for (const auto& s : o.user_defined_symbols) symbols += (symbols.empty() ? "" : ",") + s;
  std::unordered_map<std::string, std::string> kw = {
      {"model_prefix", o.out_prefix},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"model_type", o.model_type},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"byte_fallback", "true"},  // any text stays encodable: no <unk> on new characters
      {"split_digits", "true"},
      {"max_sentence_length", std::to_string(o.max_sentence_length)},
      {"input_sentence_size", "2000000"},
      {"shuffle_input_sentence", "true"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"unk_id", "0"},
      {"pad_id", "-1"},
      {"minloglevel", "2"},           // quiet: the CLI reports the result itself
      {"hard_vocab_limit", "false"},  // tiny corpora: a smaller vocab instead of an error
  };
  if (!symbols.empty()) kw["user_defined_symbols"] = symbols;
  VectorIterator it(sentences);
  const auto status = sentencepiece::SentencePieceTrainer::Train(kw, &it);
  if (!status.ok())
    throw Error("tokenizer train: sentencepiece trainer failed: " + status.ToString());
  return o.out_prefix + ".model";
}

}  // namespace principia::tokenizer
