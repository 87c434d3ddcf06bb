// `principia export` and `principia generate`: Hugging Face directories out, samples out.
// This file stays LibTorch-free: the model is held through model/pretrained.h.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/jsonl.h"
#include "data/prompt/chat_template.h"
#include "data/prompt/judge_prompt.h"
#include "model/generation.h"
#include "model/hf_checkpoint.h"
#include "model/pretrained.h"
#include "model/tokenizer/tokenizer.h"
#include "rewards/judgment.h"
#include "rewards/judgment_parser.h"

namespace principia::cli {
namespace {

const CommandSpec kExportSpec{
    "principia export CHECKPOINT_DIR OUT_DIR [--max-shard-size 5GB] [--dtype bfloat16|float32]\n"
    "       [--chat-template qwen3|llama3|plain] [--template NAME]",
    "Writes a Hugging Face directory that transformers' AutoModelForCausalLM.from_pretrained and\n"
    "vLLM load: config.json, generation_config.json, model.safetensors (or shards of at most\n"
    "--max-shard-size plus model.safetensors.index.json) and the tokenizer files found beside the\n"
    "weights. CHECKPOINT_DIR is an HF directory or a training checkpoint holding one in model/.\n"
    "The configs get the tokenizer's bos/eos/pad ids (eos includes the chat template's end of\n"
    "turn); a SentencePiece tokenizer.model gets its tokenizer.json; tokenizer_config.json gets\n"
    "the chat template as Jinja. The templates default to the checkpoint's config.resolved.yaml.",
    {{"--max-shard-size", "SIZE", "largest shard, e.g. 5GB (default), 500MB"},
     {"--dtype", "DTYPE", "convert floating weights: bfloat16 or float32 (default: keep)"},
     {"--chat-template", "NAME", "the chat template the model was trained with"},
     {"--template", "NAME", "the judge prompt template it was trained with (recorded only)"}},
    2,
    2};

const CommandSpec kGenerateSpec{
    "principia generate --model DIR (--prompt-ids \"1 2 3\" | --request REQ.json) [--greedy]\n"
    "       [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]\n"
    "       [--dtype float32|bfloat16] [--device cpu|cuda] [--text] [--stop STRING]",
    "Samples from the model in DIR (an HF directory). With --prompt-ids, prints the generated ids\n"
    "on one line (space-separated; an EOS that ends the sample is included), then with --text the\n"
    "decoded text. With --request, renders the judge request through the prompt template and chat\n"
    "template, tokenizes it with the model's tokenizer, generates, and prints one JSON object: the\n"
    "output text, the finish reason and the parsed judgment (names mapped back to the request's).",
    {{"--model", "DIR", "Hugging Face model directory (required)"},
     {"--prompt-ids", "IDS", "prompt token ids, \"1 2 3\" or \"1,2,3\""},
     {"--request", "FILE", "judge request JSON {principle, prompt, responses}"},
     {"--greedy", "", "argmax decoding"},
     {"--max-new-tokens", "N", "tokens to generate at most (default 256)"},
     {"--temperature", "T", "sampling temperature (default 1.0)"},
     {"--top-p", "P", "nucleus sampling mass (default 1.0 = off)"},
     {"--top-k", "K", "keep the K most likely tokens (default 0 = off)"},
     {"--seed", "S", "sampling seed (default 0)"},
     {"--dtype", "DTYPE", "float32 (default) or bfloat16"},
     {"--device", "DEV", "cpu (default), cuda, cuda:N"},
     {"--text", "", "also print the decoded text (needs a tokenizer in DIR)"},
     {"--stop", "STRING", "stop when the decoded text contains STRING"},
     {"--template", "NAME",
      "judge prompt template (default: the one the export records, else rewardanything-v1)"},
     {"--chat-template", "NAME", "qwen3, llama3 or plain (default: the export's, else qwen3)"}},
    0,
    0};

std::vector<int64_t> parse_id_list(const std::string& text) {
  std::vector<int64_t> ids;
  std::string token;
  auto flush = [&] {
    if (token.empty()) return;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || v < 0) throw UsageError("--prompt-ids: '" + token + "' is not a token id");
    ids.push_back(v);
    token.clear();
  };
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n') flush();
    else token.push_back(c);
  }
  flush();
  if (ids.empty()) throw UsageError("--prompt-ids: no ids given");
  return ids;
}

std::vector<int32_t> to_i32(const std::vector<int64_t>& ids) { return {ids.begin(), ids.end()}; }

}  // namespace

int cmd_export(const Argv& argv) {
  Args a = parse_args(kExportSpec, argv);
  model::ExportOptions options;
  if (a.has("--max-shard-size")) options.max_shard_bytes = model::parse_byte_size(a.get("--max-shard-size"));
  options.dtype = a.get("--dtype");
  options.chat_template = a.get("--chat-template");
  options.prompt_template = a.get("--template");
  auto report = model::export_hf(a.positional()[0], a.positional()[1], options);
  std::fprintf(stderr, "exported %d shard(s), %.1f MB of weights, to %s:",
               report.num_shards, report.total_bytes / 1e6, a.positional()[1].c_str());
  for (const auto& f : report.files) std::fprintf(stderr, " %s", f.c_str());
  std::fprintf(stderr, "\n");
  return 0;
}

int cmd_generate(const Argv& argv) {
  Args a = parse_args(kGenerateSpec, argv);
  const std::string dir = a.require("--model");
  if (a.has("--prompt-ids") == a.has("--request"))
    throw UsageError("give exactly one of --prompt-ids and --request", kGenerateSpec.help_text());

  model::SamplingOptions options;
  options.greedy = a.has("--greedy");
  options.max_new_tokens = a.get_int("--max-new-tokens", 256);
  options.temperature = a.get_double("--temperature", 1.0);
  options.top_p = a.get_double("--top-p", 1.0);
  options.top_k = a.get_int("--top-k", 0);
  const int64_t seed = a.get_int("--seed", 0);
  model::LoadOptions load;
  load.dtype = a.get("--dtype", "float32");
  load.device = a.get("--device", "cpu");

  const bool need_tokenizer = a.has("--request") || a.has("--text") || a.has("--stop");
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (need_tokenizer) tok = tokenizer::load_tokenizer(model::resolve_model_dir(dir));
  if (a.has("--stop")) {
    std::string stop = a.get("--stop");
    const tokenizer::Tokenizer* t = tok.get();
    options.stop_check = [t, stop](size_t, const std::vector<int64_t>& ids) {
      // Only the tail can hold a new match: decode a window long enough for the stop string.
      size_t window = std::min(ids.size(), stop.size() + 8);
      std::vector<int64_t> tail(ids.end() - static_cast<std::ptrdiff_t>(window), ids.end());
      return t->decode(to_i32(tail)).find(stop) != std::string::npos;
    };
  }

  std::vector<int64_t> prompt;
  prompt::RenderedPrompt rendered;
  if (a.has("--prompt-ids")) {
    prompt = parse_id_list(a.get("--prompt-ids"));
  } else {
    const std::string path = a.get("--request");
    auto request = prompt::judge_request_from_json(read_json_file(path), path);
    // An export records the templates its model was trained with (tokenizer_config.json).
    const model::ServingTemplates recorded =
        model::read_serving_templates(model::resolve_model_dir(dir));
    auto tmpl = prompt::PromptTemplate::named(a.get(
        "--template", recorded.prompt_template.empty() ? std::string(prompt::kRewardAnythingV1)
                                                       : recorded.prompt_template));
    rendered = tmpl.render(request);
    auto chat = prompt::parse_chat_template(
        a.get("--chat-template", recorded.chat_template.empty() ? "qwen3" : recorded.chat_template));
    auto ids = prompt::tokenize_segments(*tok, prompt::chat_prompt_segments(chat, rendered.system,
                                                                            rendered.user),
                                         /*add_bos=*/chat == prompt::ChatTemplate::kPlain);
    prompt.assign(ids.begin(), ids.end());
    // The judgment ends at the end of the assistant's turn (plain: the tokenizer's EOS).
    const std::string end_turn = prompt::end_of_turn_token(chat);
    if (auto id = end_turn.empty() ? std::nullopt : tok->special_id(end_turn))
      options.eos_ids.push_back(*id);
    if (tok->eos_id() >= 0) options.eos_ids.push_back(tok->eos_id());
  }

  auto model = model::load_pretrained(dir, load);
  auto out = model::generate(*model, {{prompt, static_cast<uint64_t>(seed)}}, options);
  const model::Generation& g = out[0];

  if (a.has("--prompt-ids")) {
    std::string line;
    for (size_t i = 0; i < g.ids.size(); ++i) line += (i ? " " : "") + std::to_string(g.ids[i]);
    std::printf("%s\n", line.c_str());
    if (a.has("--text")) std::printf("%s\n", tok->decode(to_i32(g.ids)).c_str());
    return 0;
  }
  std::string text = tok->decode(to_i32(g.ids));
  rewards::Judgment j = rewards::parse_judgment(text);
  rewards::remap_names(j, rendered.mapping);
  ordered_json scores = ordered_json::object();
  for (const auto& s : j.scores) scores[s.name] = s.value;
  ordered_json result = {{"output", text},
                         {"finish_reason", model::finish_reason_name(g.finish)},
                         {"num_tokens", g.ids.size()},
                         {"judgment",
                          {{"parsed", j.json_parsed},
                           {"reasoning", j.reasoning},
                           {"scores", scores},
                           {"best-to-worst", j.ranking}}}};
  std::printf("%s\n", result.dump(2, ' ', false, nlohmann::detail::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace principia::cli
