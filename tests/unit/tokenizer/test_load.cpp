#include <gtest/gtest.h>

#include <fstream>

#include "core/error.h"
#include "model/tokenizer/tokenizer.h"
#include "tests/common/test_data.h"

namespace principia::tokenizer {
namespace {

TEST(TokenizerLoad, PicksTheRightKindFromFilesAndDirectories) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  using principia::testing::shared_data;
  EXPECT_EQ(load_tokenizer(shared_data("tokenizers/llama2-spm"))->kind(), "sentencepiece");
  EXPECT_EQ(load_tokenizer(shared_data("tokenizers/llama2-spm/tokenizer.model"))->kind(),
            "sentencepiece");
  const auto qwen = load_tokenizer(shared_data("tokenizers/qwen2-bpe"));
  EXPECT_EQ(qwen->kind(), "tiktoken");
  // special_tokens.json beside the ranks supplies the pattern and the specials.
  EXPECT_EQ(qwen->special_id("<|im_end|>"), 151645);
  EXPECT_EQ(qwen->encode("333"), (std::vector<int32_t>{18, 18, 18}));
  // An explicit pattern name overrides the sidecar (same ranks, so the same words).
  LoadOptions llama3;
  llama3.tiktoken_pattern = "llama3";
  const auto other = load_tokenizer(shared_data("tokenizers/qwen2-bpe/qwen.tiktoken"), llama3);
  EXPECT_EQ(other->encode("hello world"), qwen->encode("hello world"));
  LoadOptions unknown;
  unknown.tiktoken_pattern = "no-such-pattern";
  EXPECT_THROW(load_tokenizer(shared_data("tokenizers/qwen2-bpe"), unknown), Error);
  EXPECT_EQ(load_tokenizer(shared_data("models/stories260k"))->kind(), "llama2c");
}

TEST(TokenizerLoad, MissingAndUnknownAreErrorsNamingThePath) {
  const auto dir = principia::testing::temp_dir("load-errors");
  auto expect_error = [](const std::string& path, const std::string& needle) {
    try {
      load_tokenizer(path);
      ADD_FAILURE() << "expected an error for " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error((dir / "nope").string(), "nope");
  expect_error(dir.string(), "no tokenizer in this directory");
  std::ofstream(dir / "weird.bin") << "\x0a\x03garbage";
  expect_error((dir / "weird.bin").string(), "weird.bin");
  std::ofstream(dir / "mystery.tiktoken") << "IQ== 0\n";
  expect_error((dir / "mystery.tiktoken").string(), "mystery.tiktoken");
}

}  // namespace
}  // namespace principia::tokenizer
