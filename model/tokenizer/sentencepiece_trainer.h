// Training a SentencePiece model (libsentencepiece's trainer) from plain text or from the
// dataset JSONL (one sentence per principle / prompt / response text of each record).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace principia::tokenizer {

struct SentencePieceTrainOptions {
  std::vector<std::string> inputs;  // *.jsonl files are read as dataset records, others as text
  int64_t vocab_size = 512;
  std::string model_type = "bpe";  // bpe | unigram
  std::string out_prefix;          // writes PREFIX.model and PREFIX.vocab
  std::vector<std::string> user_defined_symbols;
  double character_coverage = 1.0;
  int64_t max_sentence_length = 1 << 16;  // bytes; longer texts are cut into lines first
};

// The training sentences of one input: each non-empty line of a text file; for JSONL, every
// string in principle, prompt and responses (object values or [name, text] pairs), each split
// into its lines. Throws principia::Error with file:line for a JSONL line that is not a record.
std::vector<std::string> training_sentences(const std::string& path);

// Returns the path of the written .model file. Throws principia::Error on bad options, empty
// input or a trainer failure (e.g. vocab_size too large for the text), with the trainer's message.
std::string train_sentencepiece(const SentencePieceTrainOptions& options);

}  // namespace principia::tokenizer
