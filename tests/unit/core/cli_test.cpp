// The principia binary: verbs, usage errors, exit codes, --print-config.
#include <gtest/gtest.h>

#include "tests/common/test_data.h"

namespace principia::testing {
namespace {

std::string bin() { return principia_binary(); }
std::string demo() { return std::string(PRINCIPIA_SOURCE_DIR) + "/configs/demo.yaml"; }

TEST(Cli, PrintConfigAppliesOverride) {
  std::string out;
  ASSERT_EQ(run_command(bin() + " train " + demo() + " --print-config optim.lr=3e-6", &out), 0) << out;
  auto optim = out.find("\noptim:\n");
  ASSERT_NE(optim, std::string::npos) << out;
  EXPECT_EQ(out.find("  lr: 3e-06\n", optim), out.find("  lr: ", optim)) << out;
}

TEST(Cli, UnknownKeyExitsTwoWithHint) {
  std::string out;
  EXPECT_EQ(run_command(bin() + " train " + demo() + " --print-config optim.lrr=1", &out), 2);
  EXPECT_NE(out.find("optim.lrr"), std::string::npos) << out;
  EXPECT_NE(out.find("optim.lr'"), std::string::npos) << out;
}

TEST(Cli, UnknownVerbAndFlagExitTwoWithUsage) {
  std::string out;
  EXPECT_EQ(run_command(bin() + " frobnicate", &out), 2);
  EXPECT_NE(out.find("usage: principia"), std::string::npos) << out;
  EXPECT_EQ(run_command(bin() + " train " + demo() + " --no-such-flag", &out), 2);
  EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << out;
  EXPECT_NE(out.find("usage: principia train"), std::string::npos) << out;
  EXPECT_EQ(run_command(bin(), &out), 2);
}

TEST(Cli, EveryVerbHasHelp) {
  for (const char* verb : {"train", "sft", "eval", "plan", "sweep", "export", "generate",
                           "score", "consensus", "data", "tokenize", "tokenizer", "prompt"}) {
    std::string out;
    int rc = run_command(bin() + " " + verb + " --help", &out);
    // A verb built without its module may say so (exit 3), but never crash.
    EXPECT_TRUE(rc == 0 || rc == 3) << verb << " rc=" << rc << "\n" << out;
    if (rc == 0) EXPECT_NE(out.find("usage: principia " + std::string(verb)), std::string::npos) << out;
  }
}

TEST(Cli, MissingConfigFileIsAUserError) {
  std::string out;
  EXPECT_EQ(run_command(bin() + " train /no/such/config.yaml --print-config", &out), 2);
  EXPECT_NE(out.find("/no/such/config.yaml"), std::string::npos) << out;
}

}  // namespace
}  // namespace principia::testing
