#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/utf8.h"
#include "tests/common/test_data.h"
#include "tests/unit/tokenizer/random_text.h"
#include "tests/unit/tokenizer/vectors.h"

namespace principia::tokenizer {
namespace {

std::string llama_model() {
  return principia::testing::shared_data("tokenizers/llama2-spm/tokenizer.model");
}

TEST(TokenizerSentencePiece, Llama2VectorsEncodeWithoutBos) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  SentencePieceTokenizer tok(llama_model());
  const auto vectors =
      testing::read_vectors(principia::testing::shared_data("tokenizers/llama2-spm/vectors.json"));
  ASSERT_EQ(vectors.size(), 46u);
  int passed = 0;
  for (const auto& v : vectors) {
    EXPECT_EQ(tok.encode(v.text), v.ids) << "text: " << v.text;
    passed += tok.encode(v.text) == v.ids;
  }
  EXPECT_EQ(passed, 46);
}

TEST(TokenizerSentencePiece, Llama2VectorsDecode) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  SentencePieceTokenizer tok(llama_model());
  for (const auto& v :
       testing::read_vectors(principia::testing::shared_data("tokenizers/llama2-spm/vectors.json")))
    EXPECT_EQ(tok.decode(v.ids), v.text);
}

TEST(TokenizerSentencePiece, SpecialsAndBos) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  SentencePieceTokenizer tok(llama_model());
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), -1);
  EXPECT_EQ(tok.special_id("</s>"), 2);
  EXPECT_EQ(tok.special_id("<s>"), 1);
  EXPECT_FALSE(tok.special_id("hello").has_value());
  const auto with_bos = tok.encode("Hello", true);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 1);
  EXPECT_EQ(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()), tok.encode("Hello"));
  // Plain encode never produces control ids from text; encode_with_specials does.
  const auto plain = tok.encode("a</s>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  const auto special = tok.encode_with_specials("a</s>");
  ASSERT_FALSE(special.empty());
  EXPECT_EQ(special.back(), 2);
  EXPECT_EQ(tok.token_to_id("▁the"), 278);
  EXPECT_EQ(tok.id_to_token(278), "▁the");
  EXPECT_FALSE(tok.token_to_id("no-such-piece-xyz").has_value());
  EXPECT_THROW(tok.id_to_token(32000), Error);
  EXPECT_THROW(tok.decode({5, 32000}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
}

TEST(TokenizerSentencePiece, RoundTripRandomUnicode) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  SentencePieceTokenizer tok(llama_model());
  for (uint64_t seed = 0; seed < 200; ++seed) {
    // SentencePiece's normaliser (nmt_nfkc is off for Llama 2, but leading/trailing/duplicate
    // whitespace handling stays identity here) keeps the text: decode(encode(x)) == x.
    const std::string x = testing::random_unicode(seed, 1 + seed % 60);
    EXPECT_EQ(tok.decode(tok.encode(x)), x) << "seed " << seed;
  }
}

TEST(TokenizerSentencePiece, InvalidUtf8BecomesReplacementCharacter) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  SentencePieceTokenizer tok(llama_model());
  const std::string bad = std::string("ab") + '\xff' + "c" + '\xc3';
  EXPECT_EQ(tok.decode(tok.encode(bad)),
            "ab\xEF\xBF\xBD"
            "c\xEF\xBF\xBD");
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const std::string x = testing::random_bytes(seed, 40);
    EXPECT_EQ(tok.decode(tok.encode(x)), replace_invalid_utf8(x));
  }
}

TEST(TokenizerSentencePiece, CorruptFileIsAnErrorNamingIt) {
  const auto dir = principia::testing::temp_dir("spm-corrupt");
  const std::string path = (dir / "broken.model").string();
  std::ofstream(path) << "this is not a protobuf";
  try {
    SentencePieceTokenizer tok(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SentencePieceTokenizer((dir / "missing.model").string()), Error);
}

}  // namespace
}  // namespace principia::tokenizer
