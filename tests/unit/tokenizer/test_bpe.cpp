#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "core/error.h"
#include "model/tokenizer/bpe_loaders.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/pretokenizer.h"
#include "tests/common/test_data.h"
#include "tests/unit/tokenizer/random_text.h"
#include "tests/unit/tokenizer/vectors.h"

namespace principia::tokenizer {
namespace {

std::string qwen_ranks() {
  return principia::testing::shared_data("tokenizers/qwen2-bpe/qwen.tiktoken");
}

// Loaded once: building the pair table takes a moment.
const BpeTokenizer& qwen() {
  static std::unique_ptr<BpeTokenizer> tok =
      std::make_unique<BpeTokenizer>(read_tiktoken_file(qwen_ranks()));
  return *tok;
}

TEST(TokenizerBpe, QwenVectorsEncode) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto vectors =
      testing::read_vectors(principia::testing::shared_data("tokenizers/qwen2-bpe/vectors.json"));
  ASSERT_EQ(vectors.size(), 46u);
  int passed = 0;
  for (const auto& v : vectors) {
    const auto ids = qwen().encode(v.text);
    EXPECT_EQ(ids, v.ids) << "text: " << v.text;
    passed += ids == v.ids;
  }
  EXPECT_EQ(passed, 46);
}

TEST(TokenizerBpe, QwenVectorsDecode) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  for (const auto& v :
       testing::read_vectors(principia::testing::shared_data("tokenizers/qwen2-bpe/vectors.json")))
    EXPECT_EQ(qwen().decode(v.ids), v.text);
}

TEST(TokenizerBpe, QwenSpecials) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto& tok = qwen();
  EXPECT_EQ(tok.kind(), "tiktoken");
  EXPECT_EQ(tok.vocab_size(), 151646);
  EXPECT_EQ(tok.special_id("<|endoftext|>"), 151643);
  EXPECT_EQ(tok.special_id("<|im_start|>"), 151644);
  EXPECT_EQ(tok.special_id("<|im_end|>"), 151645);
  EXPECT_EQ(tok.eos_id(), 151643);
  EXPECT_EQ(tok.bos_id(), -1);
  // Ordinary encoding never yields special ids from text; the special splitter does.
  const auto plain = tok.encode("<|im_end|>");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151645), 0);
  EXPECT_EQ(tok.decode(plain), "<|im_end|>");
  const auto chat = tok.encode_with_specials("<|im_start|>user\nhi<|im_end|>\n");
  ASSERT_GE(chat.size(), 4u);
  EXPECT_EQ(chat.front(), 151644);
  EXPECT_EQ(chat[chat.size() - 2], 151645);
  EXPECT_EQ(chat.back(), 198);  // "\n"
  EXPECT_EQ(tok.decode(chat), "<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_THROW(tok.decode({151646}), Error);
}

TEST(TokenizerBpe, SplitSpecialsLeftmostLongest) {
  const std::vector<SpecialToken> specials = {{"<|ab|>", 7}, {"<|a", 5}};
  const auto segs = split_specials("x<|ab|>y<|az", specials);
  ASSERT_EQ(segs.size(), 5u);
  EXPECT_EQ(segs[0].text, "x");
  EXPECT_EQ(segs[1].special, 7);
  EXPECT_EQ(segs[2].text, "y");
  EXPECT_EQ(segs[3].special, 5);
  EXPECT_EQ(segs[4].text, "z");
  EXPECT_TRUE(split_specials("", specials).empty());
}

// The reference algorithm, written naively: tiktoken's byte_pair_merge over a std::map.
std::vector<int32_t> reference_bpe(const std::map<std::string, int32_t>& ranks,
                                   const std::string& piece) {
  if (auto it = ranks.find(piece); it != ranks.end()) return {it->second};
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  while (parts.size() > 1) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find(parts[i] + parts[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT32_MAX) break;
    parts[at] += parts[at + 1];
    parts.erase(parts.begin() + at + 1);
  }
  std::vector<int32_t> ids;
  for (const auto& p : parts) ids.push_back(ranks.at(p));
  return ids;
}

TEST(TokenizerBpe, MatchesNaiveMergeOnShortAndLongPretokens) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const BpeSpec spec = read_tiktoken_file(qwen_ranks());
  std::map<std::string, int32_t> ranks;
  for (int32_t id = 0; id < 151643; ++id) ranks[spec.token_bytes[id]] = id;
  Pretokenizer split(named_pretokenizer_pattern("qwen2"), "test");
  std::vector<std::string> texts;
  for (uint64_t seed = 0; seed < 60; ++seed) texts.push_back(testing::random_unicode(seed, 200));
  texts.push_back(std::string(300, ' ') + "x");                   // long whitespace run: heap path
  texts.push_back(std::string(200, '=') + std::string(90, '-'));  // long symbol run
  texts.push_back(
      "!@#$%^&*()_+{}|:<>?~`-=[];',./"
      "!@#$%^&*()_+{}|:<>?~`-=[];',./");
  texts.push_back("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  for (const auto& text : texts) {
    std::vector<std::string_view> pieces;
    split.split(text, &pieces);
    std::vector<int32_t> expected;
    for (auto p : pieces) {
      auto ids = reference_bpe(ranks, std::string(p));
      expected.insert(expected.end(), ids.begin(), ids.end());
    }
    EXPECT_EQ(qwen().encode(text), expected) << text;
  }
}

TEST(TokenizerBpe, RoundTripRandomUnicodeAndArbitraryBytes) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::string x = testing::random_unicode(seed, 1 + seed % 80);
    EXPECT_EQ(qwen().decode(qwen().encode(x)), x) << "seed " << seed;
  }
  // Invalid UTF-8 is kept byte for byte (see tokenizer.h).
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const std::string x = testing::random_bytes(seed, 1 + seed % 64);
    EXPECT_EQ(qwen().decode(qwen().encode(x)), x) << "seed " << seed;
  }
  const std::string mixed = std::string("caf\xC3\xA9 \xff\xfe word ") + '\x80' + "\xe4\xb8 end";
  EXPECT_EQ(qwen().decode(qwen().encode(mixed)), mixed);
}

TEST(TokenizerBpe, ConcurrentEncodersAgree) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> expected;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    texts.push_back(testing::random_unicode(1000 + seed, 400));
    expected.push_back(qwen().encode(texts.back()));
  }
  qwen().clear_cache();
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          mismatches[t] += qwen().encode(texts[(i + t * 7) % texts.size()]) !=
                           expected[(i + t * 7) % texts.size()];
    });
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(TokenizerBpe, TiktokenFileErrorsNameTheFileAndLine) {
  const auto dir = principia::testing::temp_dir("tiktoken-bad");
  const std::string path = (dir / "qwen-bad.tiktoken").string();
  std::ofstream(path) << "IQ== 0\nIg== 1\n!!!! 2\n";
  try {
    read_tiktoken_file(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("qwen-bad.tiktoken:3"), std::string::npos) << what;
    EXPECT_NE(what.find("base64"), std::string::npos) << what;
  }
  const std::string gap = (dir / "qwen-gap.tiktoken").string();
  std::ofstream(gap) << "IQ== 0\nIg== 5\n";
  EXPECT_THROW(read_tiktoken_file(gap), Error);
  // Too few tokens to be byte-level.
  const std::string small = (dir / "qwen-small.tiktoken").string();
  std::ofstream(small) << "IQ== 0\n";
  EXPECT_THROW(read_tiktoken_file(small), Error);
}

TEST(TokenizerBpe, Base64) {
  std::string out;
  EXPECT_TRUE(base64_decode("aGVsbG8=", &out));
  EXPECT_EQ(out, "hello");
  EXPECT_TRUE(base64_decode("IA==", &out));
  EXPECT_EQ(out, " ");
  EXPECT_FALSE(base64_decode("aGVsbG8", &out));
  EXPECT_FALSE(base64_decode("a=Vs", &out));
}

TEST(TokenizerBpe, PretokenizerPatterns) {
  Pretokenizer qwen2(named_pretokenizer_pattern("qwen2"), "test");
  Pretokenizer llama3(named_pretokenizer_pattern("llama3"), "test");
  std::vector<std::string_view> a, b;
  qwen2.split("x 12345 it's", &a);
  llama3.split("x 12345 it's", &b);
  EXPECT_EQ(a, (std::vector<std::string_view>{"x", " ", "1", "2", "3", "4", "5", " it", "'s"}));
  EXPECT_EQ(b, (std::vector<std::string_view>{"x", " ", "123", "45", " it", "'s"}));
  EXPECT_THROW(Pretokenizer("(unclosed", "bad.json"), Error);
}

}  // namespace
}  // namespace principia::tokenizer
