#include "model/tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "model/tokenizer/utf8.h"

namespace principia::tokenizer {

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& path)
    : path_(path), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(path + ": no such SentencePiece model file");
  const auto status = sp_->Load(path);
  if (!status.ok()) throw Error(path + ": not a valid SentencePiece model: " + status.ToString());
  const int n = sp_->GetPieceSize();
  if (n <= 0) throw Error(path + ": SentencePiece model has no pieces");
  for (int id = 0; id < n; ++id)
    if (sp_->IsControl(id) || sp_->IsUnknown(id)) specials_.push_back({sp_->IdToPiece(id), id});
  std::stable_sort(
      specials_.begin(), specials_.end(),
      [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
  // Control pieces with empty text cannot be matched in text.
  std::erase_if(specials_, [](const SpecialToken& s) { return s.text.empty(); });
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  const std::string clean = replace_invalid_utf8(text);
  const auto status = sp_->Encode(clean, &ids);
  if (!status.ok()) throw Error(path_ + ": encode failed: " + status.ToString());
  std::vector<int32_t> out;
  out.reserve(ids.size() + 1);
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  const int n = sp_->GetPieceSize();
  for (int32_t id : ids)
    if (id < 0 || id >= n)
      throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary of " +
                  path_ + " (size " + std::to_string(n) + ")");
  std::string out;
  const auto status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &out);
  if (!status.ok()) throw Error(path_ + ": decode failed: " + status.ToString());
  return out;
}

std::optional<int32_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int id = sp_->PieceToId(token);
  // PieceToId answers unk_id for unknown pieces; only the unknown piece itself maps there.
  if (id == sp_->unk_id() && token != sp_->IdToPiece(id)) return std::nullopt;
  return id;
}

std::string SentencePieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= sp_->GetPieceSize())
    throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + path_);
  return sp_->IdToPiece(id);
}

int32_t SentencePieceTokenizer::vocab_size() const {
  return sp_->GetPieceSize();
}
int32_t SentencePieceTokenizer::bos_id() const {
  return sp_->bos_id();
}
int32_t SentencePieceTokenizer::eos_id() const {
  return sp_->eos_id();
}
int32_t SentencePieceTokenizer::pad_id() const {
  return sp_->pad_id();
}

}  // namespace principia::tokenizer
