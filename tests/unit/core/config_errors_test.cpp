// Every way a config can be wrong gives ONE principia::Error naming the file, the line where
// known, and the full key path. Each case asserts the key path and the location.
#include "tests/unit/core/config_fixture.h"

namespace principia::testing {
namespace {

struct BadCase {
  const char* name;
  const char* yaml;                  // the config file
  std::vector<std::string> overrides;
  const char* key_path;              // must appear in the message
  const char* also;                  // another fragment that must appear ("" for none)
  int line;                          // expected line in "file:LINE" (0: not checked)
};

const BadCase kCases[] = {
    {"unknown_key_hint", "optim:\n  lrr: 1\n", {}, "optim.lrr", "did you mean 'optim.lr'", 2},
    {"unknown_section", "optimm: {lr: 1}\n", {}, "optimm", "did you mean 'optim'", 1},
    {"unknown_key_override", "", {"optim.lrr=1"}, "optim.lrr", "did you mean 'optim.lr'", 0},
    {"wrong_type_int", "rollout:\n  group_size: eight\n", {}, "rollout.group_size", "expected an integer", 2},
    {"wrong_type_float", "optim:\n  lr: fast\n", {}, "optim.lr", "expected a number", 2},
    {"wrong_type_bool", "model:\n  tie_word_embeddings: maybe\n", {}, "model.tie_word_embeddings", "true or false", 2},
    {"section_not_map", "optim: 3\n", {}, "optim", "expected a mapping", 1},
    {"string_got_map", "run:\n  name: {a: 1}\n", {}, "run.name", "is a mapping", 2},
    {"string_got_list", "tokenizer:\n  path: [a, b]\n", {}, "tokenizer.path", "expected a string", 2},
    {"out_of_range_negative", "optim:\n  lr: -1\n", {}, "optim.lr", "out of range", 2},
    {"out_of_range_top_p", "rollout:\n  top_p: 1.5\n", {}, "rollout.top_p", "out of range", 2},
    {"out_of_range_zero_stage", "optim:\n  zero_stage: 4\n", {}, "optim.zero_stage", "out of range", 2},
    {"bad_enum", "algorithm:\n  kl_estimator: k4\n", {}, "algorithm.kl_estimator", "k1, k2, k3", 2},
    {"bad_synth_eval_principles", "data:\n  synth_options: {eval_principles: heldout}\n", {}, "data.synth_options.eval_principles", "did you mean 'held_out'", 2},
    {"bad_enum_hint", "algorithm:\n  loss_agg: token_mean\n", {}, "algorithm.loss_agg", "did you mean 'token-mean'", 2},
    {"betas_length", "optim:\n  betas: [0.9]\n", {}, "optim.betas", "two numbers", 2},
    {"betas_not_numbers", "optim:\n  betas: [a, b]\n", {}, "optim.betas[0]", "expected a number", 2},
    {"missing_required_component_name", "reward:\n  components:\n    - {weight: 1}\n", {}, "reward.components[0].name", "missing required key", 3},
    {"component_unknown_field", "reward:\n  components:\n    - {name: format, wieght: 1}\n", {}, "reward.components[0].wieght", "did you mean 'reward.components[0].weight'", 3},
    {"component_params_not_map", "reward:\n  components:\n    - {name: format, params: 3}\n", {}, "reward.components[0].params", "mapping", 3},
    {"empty_components", "reward:\n  components: []\n", {}, "reward.components", "at least one", 2},
    {"kv_heads_divide", "model:\n  num_heads: 6\n  num_kv_heads: 4\n", {}, "model.num_kv_heads", "must divide", 3},
    {"unknown_arch", "model:\n  arch: gpt2\n", {}, "model.arch", "qwen3 or llama", 2},
    {"dual_clip_range", "algorithm:\n  dual_clip: 0.5\n", {}, "algorithm.dual_clip", "greater than 1", 2},
    {"mini_batch_too_big", "rollout: {batch_size: 4}\nalgorithm:\n  mini_batch: 8\n", {}, "algorithm.mini_batch", "rollout.batch_size", 3},
    {"bad_log_level", "log:\n  level: loud\n", {}, "log.level", "unknown log level", 2},
    {"duplicate_key", "optim:\n  lr: 1\n  lr: 2\n", {}, "lr", "duplicate key", 3},
    {"invalid_yaml", "optim: {lr: 1\nrun: x\n", {}, "", "invalid YAML", 0},
    {"top_level_not_map", "- a\n- b\n", {}, "", "mapping of sections", 1},
    {"interp_unknown_key", "run:\n  output_dir: ${run.nmae}/x\n", {}, "run.output_dir", "unknown key 'run.nmae'", 2},
    {"interp_cycle", "run:\n  name: ${run.output_dir}\n  output_dir: ${run.name}\n", {}, "run.", "interpolation cycle", 0},
    {"interp_env_unset", "run:\n  name: ${env:PRINCIPIA_SURELY_UNSET_VAR}\n", {}, "run.name", "PRINCIPIA_SURELY_UNSET_VAR", 2},
    {"interp_unterminated", "run:\n  name: ab${run.seed\n", {}, "run.name", "unterminated", 2},
    {"override_malformed", "", {"optim.lr"}, "optim.lr", "expected key.path=value", 0},
    {"override_bad_path", "", {"optim..lr=1"}, "optim..lr", "bad key path", 0},
    {"override_append_not_list", "", {"optim.lr+=1"}, "optim.lr", "appends to a list", 0},
    {"override_index_out_of_range", "", {"reward.components.5.weight=1"}, "reward.components.5", "out of range", 0},
    {"override_into_scalar", "", {"optim.lr.x=1"}, "optim.lr.x", "cannot set a key", 0},
    {"override_bad_type", "", {"rollout.group_size=abc"}, "rollout.group_size", "expected an integer", 0},
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadConfig : public ConfigTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadConfig, OneClearMessageWithKeyPathAndLocation) {
  const BadCase& c = GetParam();
  std::string path = write("bad.yaml", c.yaml);
  std::string msg = load_error(path, c.overrides);
  EXPECT_NE(msg.find(c.key_path), std::string::npos) << "message: " << msg;
  if (*c.also) EXPECT_NE(msg.find(c.also), std::string::npos) << "message: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line expected: " << msg;
  if (c.overrides.empty()) {
    EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << "file not named: " << msg;
    if (c.line > 0)
      EXPECT_NE(msg.find("bad.yaml:" + std::to_string(c.line)), std::string::npos) << msg;
  } else {
    EXPECT_NE(msg.find(c.overrides[0].substr(0, c.overrides[0].find('='))), std::string::npos) << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadConfig, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, MissingFile) {
  std::string msg = load_error((dir_ / "nope.yaml").string());
  EXPECT_NE(msg.find("nope.yaml"), std::string::npos);
  EXPECT_NE(msg.find("not found"), std::string::npos);
}

TEST_F(ConfigTest, IncludeNotFoundNamesIncludingFileAndLine) {
  std::string msg = load_error(write("a.yaml", "run: {name: x}\ninclude: missing.yaml\n"));
  EXPECT_NE(msg.find("a.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing.yaml"), std::string::npos) << msg;
}

TEST_F(ConfigTest, IncludeCycle) {
  write("a.yaml", "include: b.yaml\n");
  write("b.yaml", "include: a.yaml\n");
  std::string msg = load_error((dir_ / "a.yaml").string());
  EXPECT_NE(msg.find("include cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("include"), std::string::npos) << msg;
}

TEST_F(ConfigTest, ErrorInIncludedFileNamesThatFile) {
  write("base.yaml", "optim:\n  lr: nope\n");
  std::string msg = load_error(write("top.yaml", "include: base.yaml\n"));
  EXPECT_NE(msg.find("base.yaml:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("optim.lr"), std::string::npos) << msg;
}

TEST_F(ConfigTest, UnreadableFile) {
  std::string p = write("a.yaml", "run: {name: a}\n");
  std::filesystem::remove(p);
  std::filesystem::create_directory(p);  // a directory where a file is expected
  std::string msg = load_error(p);
  EXPECT_NE(msg.find("a.yaml"), std::string::npos) << msg;
}

TEST_F(ConfigTest, TrainingChecksNameTheKey) {
  auto expect = [&](const std::vector<std::string>& ov, const std::string& key, const std::string& frag) {
    config::Config c = config::load(write("t.yaml", "data: {synth: true}\ntokenizer: {train: true}\n"), ov);
    try {
      config::validate_for_training(c);
      ADD_FAILURE() << "no error for " << key;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(key), std::string::npos) << m;
      EXPECT_NE(m.find(frag), std::string::npos) << m;
    }
  };
  expect({"rollout.group_size=1"}, "rollout.group_size", "at least 2");
  expect({"algorithm.micro_batch_tokens=100"}, "algorithm.micro_batch_tokens", "smaller than one sequence");
  expect({"data.synth=false"}, "data.train", "missing");
  expect({"data.synth=false", "data.train=/no/such.jsonl"}, "data.train", "not found");
  expect({"data.eval=/no/eval.jsonl", "data.synth=false", "data.train=" + write("d.jsonl", "{}\n")},
         "data.eval", "not found");
  expect({"model.path=/no/model"}, "model.path", "not a directory");
  expect({"model.dtype=float16"}, "model.dtype", "needs loss scaling");
}

}  // namespace
}  // namespace principia::testing
