// `principia tokenize | tokenizer train | prompt` end to end: every tokenizer vector through the
// command line (TEXT argument and batch file), every judge render case byte for byte.
#include <gtest/gtest.h>

#include <fstream>

#include "core/files.h"
#include "core/jsonl.h"
#include "data/prompt/chat_template.h"
#include "data/prompt/judge_prompt.h"
#include "model/tokenizer/tokenizer.h"
#include "tests/common/test_data.h"
#include "tests/unit/tokenizer/vectors.h"

namespace principia {
namespace {

using principia::testing::principia_binary;
using principia::testing::run_command;
using principia::testing::shared_data;

// POSIX shell single quotes: every byte literal except the quote itself.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out;
}

void check_vectors_by_argument(const std::string& tokenizer, const std::string& vectors) {
  int passed = 0;
  const auto cases = tokenizer::testing::read_vectors(shared_data(vectors));
  for (const auto& v : cases) {
    std::string out;
    const int rc =
        run_command(principia_binary() + " tokenize --tokenizer " +
                        shell_quote(shared_data(tokenizer)) + " -- " + shell_quote(v.text),
                    &out);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, join_ids(v.ids) + "\n") << "text: " << v.text;
    passed += rc == 0 && out == join_ids(v.ids) + "\n";
    // And back.
    std::string back;
    run_command(principia_binary() + " tokenize --tokenizer " +
                    shell_quote(shared_data(tokenizer)) + " --decode " +
                    shell_quote(join_ids(v.ids)),
                &back);
    EXPECT_EQ(back, v.text + "\n");
  }
  EXPECT_EQ(passed, static_cast<int>(cases.size()));
}

TEST(TokenizerCli, Llama2VectorsByArgument) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  check_vectors_by_argument("tokenizers/llama2-spm/tokenizer.model",
                            "tokenizers/llama2-spm/vectors.json");
}

TEST(TokenizerCli, QwenVectorsByArgument) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  check_vectors_by_argument("tokenizers/qwen2-bpe/qwen.tiktoken",
                            "tokenizers/qwen2-bpe/vectors.json");
}

TEST(TokenizerCli, BatchJsonlMode) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto dir = principia::testing::temp_dir("cli-batch");
  const auto cases =
      tokenizer::testing::read_vectors(shared_data("tokenizers/qwen2-bpe/vectors.json"));
  std::string input;
  for (const auto& v : cases) {
    input += ordered_json(v.text).dump() + "\n";
  }
  std::ofstream(dir / "in.jsonl") << input;
  std::string out;
  ASSERT_EQ(run_command(principia_binary() + " tokenize --tokenizer " +
                            shell_quote(shared_data("tokenizers/qwen2-bpe")) +
                            " --jsonl --input-file " + (dir / "in.jsonl").string() + " 2>/dev/null",
                        &out),
            0)
      << out;
  // One JSON array of ids per input line.
  size_t i = 0;
  for (size_t pos = 0; pos < out.size(); pos = out.find('\n', pos) + 1) {
    const std::string line = out.substr(pos, out.find('\n', pos) - pos);
    ASSERT_LT(i, cases.size());
    EXPECT_EQ(ordered_json::parse(line).get<std::vector<int32_t>>(), cases[i].ids) << cases[i].text;
    ++i;
  }
  EXPECT_EQ(i, cases.size());
}

TEST(TokenizerCli, BadInputExitsTwoWithOneLine) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  std::string out;
  EXPECT_EQ(run_command(principia_binary() + " tokenize --tokenizer /no/such/tok x", &out), 2);
  EXPECT_NE(out.find("/no/such/tok"), std::string::npos) << out;
  EXPECT_EQ(
      run_command(principia_binary() + " tokenize --tokenizer " +
                      shell_quote(shared_data("tokenizers/llama2-spm")) + " --decode '1 99999'",
                  &out),
      2);
  EXPECT_NE(out.find("99999"), std::string::npos) << out;
  EXPECT_EQ(run_command(principia_binary() + " tokenize --tokenizer " +
                            shell_quote(shared_data("tokenizers/llama2-spm")) + " --decode 'x1'",
                        &out),
            2);
  EXPECT_EQ(run_command(principia_binary() + " tokenize", &out), 2);
}

TEST(TokenizerCli, PromptRenderCasesByteForByte) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const auto dir = principia::testing::temp_dir("cli-prompt");
  const ordered_json cases = read_json_file(shared_data("judge/render_cases.json"));
  for (size_t i = 0; i < cases.size(); ++i) {
    ordered_json req = ordered_json::object();
    req["principle"] = cases[i]["principle"];
    req["prompt"] = cases[i]["prompt"];
    req["responses"] = ordered_json::object();
    for (const auto& pair : cases[i]["responses"])
      req["responses"][pair[0].get<std::string>()] = pair[1];
    const std::string path = (dir / ("req" + std::to_string(i) + ".json")).string();
    std::ofstream(path) << req.dump();
    const std::string expected = cases[i]["user_message"].get<std::string>();
    std::string out;
    ASSERT_EQ(
        run_command(principia_binary() + " prompt --template rewardanything-v1 " + path, &out), 0)
        << out;
    EXPECT_EQ(out, expected) << "case " << i;
    ASSERT_EQ(run_command(principia_binary() + " prompt " + path + " --chat", &out), 0) << out;
    EXPECT_EQ(out,
              prompt::render_chat(prompt::ChatTemplate::kQwen3,
                                  read_file(shared_data("judge/system_prompt.txt")), expected));
  }
  // A permutation reorders what is shown; the mapping says who is who.
  std::string out;
  ASSERT_EQ(run_command(principia_binary() + " prompt " + (dir / "req0.json").string() +
                            " --permutation 1,0 --mapping",
                        &out),
            0);
  EXPECT_EQ(out, "{\"model-1\":\"model-2\",\"model-2\":\"model-1\"}\n");
  EXPECT_EQ(run_command(principia_binary() + " prompt " + (dir / "req0.json").string() +
                            " --permutation 0,0",
                        &out),
            2);
  EXPECT_EQ(run_command(principia_binary() + " prompt " + (dir / "missing.json").string(), &out),
            2);
}

TEST(TokenizerCli, TrainFromDatasetJsonlThenTokenize) {
  const auto dir = principia::testing::temp_dir("cli-train");
  {
    std::ofstream f(dir / "data.jsonl");
    for (int i = 0; i < 300; ++i)
      f << ordered_json{{"id", std::to_string(i)},
                        {"principle", "Prefer answers that are concise and correct."},
                        {"prompt",
                         "What is " + std::to_string(i) + " plus " + std::to_string(i % 7) + "?"},
                        {"responses",
                         {{"a", "The answer is " + std::to_string(i + i % 7) + "."},
                          {"b", "I think it is probably around " + std::to_string(i) + ", café!"}}}}
               .dump()
        << "\n";
  }
  std::string out;
  const std::string prefix = (dir / "tok").string();
  ASSERT_EQ(run_command(principia_binary() + " tokenizer train --input " +
                            (dir / "data.jsonl").string() + " --vocab-size 320 --out " + prefix,
                        &out),
            0)
      << out;
  EXPECT_NE(out.find("tok.model"), std::string::npos) << out;
  const auto tok = tokenizer::load_tokenizer(prefix + ".model");
  EXPECT_EQ(tok->vocab_size(), 320);
  const std::string text = "The answer is 42, naïve 中文";  // unseen characters: byte fallback
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
  // A unigram model from the same data also loads and round-trips.
  ASSERT_EQ(
      run_command(principia_binary() + " tokenizer train --input " + (dir / "data.jsonl").string() +
                      " --vocab-size 300 --model-type unigram --out " + prefix + "-uni",
                  &out),
      0)
      << out;
  const auto uni = tokenizer::load_tokenizer(prefix + "-uni.model");
  EXPECT_EQ(uni->decode(uni->encode(text)), text);
  EXPECT_EQ(
      run_command(principia_binary() + " tokenizer train --input " + (dir / "data.jsonl").string() +
                      " --vocab-size 320 --out " + prefix + " --model-type wordpiece",
                  &out),
      2);
  EXPECT_EQ(run_command(principia_binary() + " tokenizer frobnicate", &out), 2);
}

}  // namespace
}  // namespace principia
