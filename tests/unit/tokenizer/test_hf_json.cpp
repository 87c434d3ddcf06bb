#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/tokenizer/bpe_loaders.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "tests/common/test_data.h"

namespace principia::tokenizer {
namespace {

using nlohmann::json;

// A small byte-level tokenizer.json: the 256 byte symbols, then a few merges whose rank order
// differs from their id order (so the test sees merge ranks, not ids, deciding).
json small_tokenizer(bool ignore_merges) {
  json vocab = json::object();
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) vocab[b2u[b]] = b;
  vocab["bc"] = 256;
  vocab["ab"] = 257;
  vocab["abc"] = 258;
  vocab["Ġa"] = 259;
  vocab["Ã©"] = 260;  // é = bytes C3 A9, spelled "Ã©" in byte-unicode
  json j;
  j["version"] = "1.0";
  j["normalizer"] = {{"type", "NFC"}};
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", R"( ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+)"}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["added_tokens"] = {{{"id", 261}, {"content", "<|end|>"}, {"special", true}},
                       {{"id", 262}, {"content", "<think>"}, {"special", false}}};
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab},
                {"merges", {"a b", "b c", json::array({"ab", "c"}), "Ġ a", "Ã ©"}},
                {"ignore_merges", ignore_merges}};
  return j;
}

std::string write(const json& j, const std::string& name) {
  const auto dir = principia::testing::temp_dir(name);
  const std::string path = (dir / "tokenizer.json").string();
  std::ofstream(path) << j.dump();
  return path;
}

TEST(TokenizerHfJson, MergesByRankAndWholeTokenRule) {
  BpeTokenizer tok(read_hf_tokenizer_json(write(small_tokenizer(false), "hf-merges")));
  EXPECT_EQ(tok.kind(), "bpe");
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{258}));  // a+b (rank 0), then ab+c
  EXPECT_EQ(tok.encode("bca"), (std::vector<int32_t>{256, 'a'}));
  EXPECT_EQ(tok.encode(" a"), (std::vector<int32_t>{259}));
  // Without ignore_merges, "bc" inside "abc"? a+b has rank 0 < b+c: still 258.
  json j = small_tokenizer(false);
  j["model"]["merges"] = {"b c", "a b", json::array({"ab", "c"})};  // now b+c merges first
  BpeTokenizer reordered(read_hf_tokenizer_json(write(j, "hf-reordered")));
  EXPECT_EQ(reordered.encode("abc"), (std::vector<int32_t>{'a', 256}));  // a + bc: no merge
  // ignore_merges: a pre-token already in the vocabulary is taken whole.
  j["model"]["ignore_merges"] = true;
  BpeTokenizer whole(read_hf_tokenizer_json(write(j, "hf-whole")));
  EXPECT_EQ(whole.encode("abc"), (std::vector<int32_t>{258}));
}

TEST(TokenizerHfJson, NfcAddedTokensAndSpelling) {
  BpeTokenizer tok(read_hf_tokenizer_json(write(small_tokenizer(false), "hf-nfc")));
  // "e" + U+0301 composes to é (C3 A9), merged into token 260.
  EXPECT_EQ(tok.encode("e\xCC\x81"), (std::vector<int32_t>{260}));
  EXPECT_EQ(tok.decode({260}), "\xC3\xA9");
  EXPECT_EQ(tok.id_to_token(259), "Ġa");
  EXPECT_EQ(tok.token_to_id("Ġa"), 259);
  EXPECT_EQ(tok.special_id("<think>"), 262);
  EXPECT_EQ(tok.encode_with_specials("<think>abc<|end|>"), (std::vector<int32_t>{262, 258, 261}));
  EXPECT_EQ(tok.decode({262, 258, 261}), "<think>abc<|end|>");
}

TEST(TokenizerHfJson, RolesFromTokenizerConfig) {
  const std::string path = write(small_tokenizer(false), "hf-config");
  std::ofstream(std::filesystem::path(path).parent_path() / "tokenizer_config.json")
      << R"({"eos_token": {"content": "<|end|>"}, "pad_token": "<|end|>", "bos_token": null})";
  BpeTokenizer tok(read_hf_tokenizer_json(path));
  EXPECT_EQ(tok.eos_id(), 261);
  EXPECT_EQ(tok.pad_id(), 261);
  EXPECT_EQ(tok.bos_id(), -1);
}

TEST(TokenizerHfJson, UnsupportedPartsAreNamed) {
  auto expect_error = [](const json& j, const std::string& name, const std::string& needle) {
    const std::string path = write(j, name);
    try {
      BpeTokenizer tok(read_hf_tokenizer_json(path));
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("tokenizer.json"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  json j = small_tokenizer(false);
  j["model"]["type"] = "WordPiece";
  expect_error(j, "hf-wordpiece", "model.type");
  j = small_tokenizer(false);
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_error(j, "hf-lower", "normalizer");
  j = small_tokenizer(false);
  j["model"]["merges"] = {"a zz"};
  expect_error(j, "hf-badmerge", "model.merges[0]");
  j = small_tokenizer(false);
  j["model"]["vocab"].erase("Ā");  // byte 0x00's symbol: no longer byte-level
  expect_error(j, "hf-nobyte", "byte");
  const auto dir = principia::testing::temp_dir("hf-notjson");
  std::ofstream(dir / "tokenizer.json") << "{not json";
  EXPECT_THROW(read_hf_tokenizer_json((dir / "tokenizer.json").string()), Error);
}

}  // namespace
}  // namespace principia::tokenizer
