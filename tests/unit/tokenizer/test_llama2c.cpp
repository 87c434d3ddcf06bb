#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/tokenizer/llama2c_tokenizer.h"
#include "model/tokenizer/tokenizer.h"
#include "tests/common/test_data.h"
#include "tests/unit/tokenizer/random_text.h"

namespace principia::tokenizer {
namespace {

TEST(TokenizerLlama2c, DecodesStories260kExpectedText) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto tok = load_tokenizer(principia::testing::shared_data("models/stories260k"));
  EXPECT_EQ(tok->kind(), "llama2c");
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  std::ifstream in(principia::testing::shared_data("models/stories260k/expected.json"));
  const auto expected = nlohmann::json::parse(in);
  const auto ids = expected.at("greedy_ids").get<std::vector<int32_t>>();
  EXPECT_EQ(tok->decode(ids), expected.at("text").get<std::string>());
  // After BOS, as llama2.c prints it.
  std::vector<int32_t> with_bos = {1};
  with_bos.insert(with_bos.end(), ids.begin(), ids.end());
  EXPECT_EQ(tok->decode(with_bos), expected.at("text").get<std::string>());
}

TEST(TokenizerLlama2c, EncodeIsScoreGreedyAndRoundTrips) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto tok = load_tokenizer(principia::testing::shared_data("models/stories260k/vocab.json"));
  // " Once" (403) and " upon" (407) are single pieces in tok512.
  EXPECT_EQ(tok->encode("Once upon"), (std::vector<int32_t>{403, 407}));
  EXPECT_EQ(tok->encode("Once", true), (std::vector<int32_t>{1, 403}));
  EXPECT_TRUE(tok->encode("").empty());
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const std::string x = testing::random_unicode(seed, 1 + seed % 50);
    EXPECT_EQ(tok->decode(tok->encode(x)), x) << "seed " << seed;
  }
  EXPECT_THROW(tok->decode({512}), Error);
}

TEST(TokenizerLlama2c, MalformedVocabIsAnError) {
  const auto dir = principia::testing::temp_dir("llama2c-bad");
  std::ofstream(dir / "vocab.json") << R"([{"id": 0, "piece": "<unk>"}])";
  try {
    load_tokenizer(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace principia::tokenizer
