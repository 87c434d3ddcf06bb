// `principia tokenize`, `principia tokenizer train`, `principia prompt`: the tokenizers and the
// judge prompt from the command line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "core/text.h"
#include "data/prompt/chat_template.h"
#include "data/prompt/judge_prompt.h"
#include "model/tokenizer/sentencepiece_trainer.h"
#include "model/tokenizer/tokenizer.h"

namespace principia::cli {

namespace {

const CommandSpec kTokenizeSpec{
    "principia tokenize --tokenizer PATH [--decode] [--bos] [--specials] [--] TEXT_OR_IDS\n"
    "       principia tokenize --tokenizer PATH [--decode] [--jsonl] --input-file FILE",
    "Encodes TEXT and prints its token ids separated by spaces (no BOS unless --bos), or with\n"
    "--decode turns ids (\"1 2 3\" or \"1,2,3\") back into text. PATH is a tokenizer file\n"
    "(tokenizer.json, *.model, *.tiktoken, llama2.c vocab.json) or a model directory.\n"
    "Batch mode (--input-file): one output line per input line. Lines are raw text (ids when\n"
    "decoding); with --jsonl each input line is a JSON string (or {\"text\": ...}) and each "
    "output\n"
    "line is a JSON array of ids (a JSON string when decoding), so any text round-trips exactly.",
    {{"--tokenizer", "PATH", "tokenizer file or model directory (required)"},
     {"--decode", "", "decode ids to text instead of encoding"},
     {"--bos", "", "prepend the BOS id when the tokenizer has one"},
     {"--specials", "", "map special-token text (<|im_end|>) to its id"},
     {"--pattern", "NAME", "pre-tokenizer for a bare *.tiktoken file: qwen2|llama3|cl100k|gpt2"},
     {"--input-file", "FILE", "batch mode: encode (or decode) every line of FILE"},
     {"--jsonl", "", "batch mode: lines are JSON values (exact for any text)"}},
    0,
    SIZE_MAX};

const CommandSpec kTokenizerTrainSpec{
    "principia tokenizer train --input TEXT_OR_JSONL[,MORE] --vocab-size N --out PREFIX "
    "[--model-type bpe|unigram]",
    "Trains a SentencePiece model (byte fallback on) and writes PREFIX.model and PREFIX.vocab.\n"
    "A *.jsonl input is read as dataset records: the principle, prompt and response texts of\n"
    "each record are the training text; any other file is read as plain text, one sentence a line.",
    {{"--input", "FILES", "comma-separated text or JSONL files (required)"},
     {"--vocab-size", "N", "vocabulary size (required; at least 16; 259+ with byte fallback)"},
     {"--out", "PREFIX", "output prefix (required)"},
     {"--model-type", "TYPE", "bpe (default) or unigram"},
     {"--user-symbols", "LIST", "comma-separated pieces to keep whole (e.g. <think>,</think>)"}},
    0,
    0};

const CommandSpec kPromptSpec{
    "principia prompt [--template NAME] REQUEST.json [--chat] [--chat-template qwen3|llama3|plain] "
    "[--permutation 2,0,1]",
    "Prints the judge user message for REQUEST.json ({\"principle\", \"prompt\", \"responses\":\n"
    "{name: text}}) exactly as the model reads it (no trailing newline), or with --chat the whole\n"
    "chat text up to the assistant's generation prompt. --permutation lists which response is\n"
    "shown as model-1, model-2, ... (0-based indexes into the request's responses).",
    {{"--template", "NAME", "prompt template (default rewardanything-v1)"},
     {"--user-template-file", "FILE",
      "custom user template with {principle} {prompt} "
      "{responses_json} {responses_list}"},
     {"--system-prompt-file", "FILE", "system message override"},
     {"--no-principle", "", "leave the principle out (ablation)"},
     {"--chat", "", "print the full chat text"},
     {"--chat-template", "NAME", "qwen3 (default), llama3 or plain"},
     {"--permutation", "LIST", "comma-separated 0-based response indexes in shown order"},
     {"--mapping", "", "print the shown-name -> real-name mapping as JSON instead"}},
    1,
    1};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::string token;
  auto flush = [&] {
    if (token.empty()) return;
    size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(token, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    if (pos != token.size() || v < INT32_MIN || v > INT32_MAX)
      throw Error("not a token id: '" + token + "'");
    ids.push_back(static_cast<int32_t>(v));
    token.clear();
  };
  for (char c : text) {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']')
      flush();
    else
      token += c;
  }
  flush();
  return ids;
}

std::string ids_to_text(const std::vector<int32_t>& ids, const char* sep) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += sep;
    out += std::to_string(ids[i]);
  }
  return out;
}

struct TokenizeMode {
  bool decode = false, bos = false, specials = false, jsonl = false;
};

std::vector<int32_t> encode(const tokenizer::Tokenizer& tok, const std::string& text,
                            const TokenizeMode& m) {
  return m.specials ? tok.encode_with_specials(text, m.bos) : tok.encode(text, m.bos);
}

int tokenize_file(const tokenizer::Tokenizer& tok, const std::string& path, const TokenizeMode& m) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open");
  std::string line, out;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r' && m.jsonl) line.pop_back();
    std::string text = line;
    if (m.jsonl) {
      const SourceLocation where{path, static_cast<int>(line_no), 0};
      ordered_json j;
      try {
        j = ordered_json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw Error(where, "", "not JSON: " + json_error_message(e.what()));
      }
      if (m.decode) {
        if (!j.is_array()) throw Error(where, "", "expected a JSON array of ids");
        std::vector<int32_t> ids;
        for (const auto& v : j) {
          if (!v.is_number_integer()) throw Error(where, "", "ids must be integers");
          ids.push_back(v.get<int32_t>());
        }
        // Byte-level decodes may be partial UTF-8: replace for the JSON output only.
        out = ordered_json(tok.decode(ids))
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else {
        if (j.is_object() && j.contains("text")) j = j["text"];
        if (!j.is_string()) throw Error(where, "", "expected a JSON string or {\"text\": string}");
        out = '[';
        out += ids_to_text(encode(tok, j.get<std::string>(), m), ", ");
        out += ']';
      }
    } else {
      out = m.decode ? tok.decode(parse_ids(text)) : ids_to_text(encode(tok, text, m), " ");
    }
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace

int cmd_tokenize(const Argv& argv) {
  const Args args = parse_args(kTokenizeSpec, argv);
  tokenizer::LoadOptions options;
  options.tiktoken_pattern = args.get("--pattern");
  const std::string path = args.require("--tokenizer");
  TokenizeMode m{args.has("--decode"), args.has("--bos"), args.has("--specials"),
                 args.has("--jsonl")};
  if (args.has("--input-file")) {
    if (!args.positional().empty())
      throw UsageError("give either --input-file or TEXT, not both", kTokenizeSpec.help_text());
    const auto tok = tokenizer::load_tokenizer(path, options);
    return tokenize_file(*tok, args.get("--input-file"), m);
  }
  if (m.jsonl) throw UsageError("--jsonl needs --input-file", kTokenizeSpec.help_text());
  if (args.positional().size() != 1)
    throw UsageError("expected one TEXT argument (quote it; use -- before text starting with '-')",
                     kTokenizeSpec.help_text());
  const auto tok = tokenizer::load_tokenizer(path, options);
  const std::string& arg = args.positional()[0];
  const std::string out =
      m.decode ? tok->decode(parse_ids(arg)) : ids_to_text(encode(*tok, arg, m), " ");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

int cmd_tokenizer(const Argv& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    if (argv.empty())
      throw UsageError("expected a subcommand: train", kTokenizerTrainSpec.help_text());
    throw HelpRequested{kTokenizerTrainSpec.help_text()};
  }
  if (argv[0] != "train")
    throw UsageError("unknown subcommand '" + argv[0] + "' (expected: train)",
                     kTokenizerTrainSpec.help_text());
  const Args args = parse_args(kTokenizerTrainSpec, Argv(argv.begin() + 1, argv.end()));
  tokenizer::SentencePieceTrainOptions o;
  for (const auto& f : split(args.require("--input"), ','))
    if (!f.empty()) o.inputs.push_back(f);
  o.vocab_size = args.get_int("--vocab-size", -1);
  if (!args.has("--vocab-size"))
    throw UsageError("missing required option --vocab-size", kTokenizerTrainSpec.help_text());
  o.out_prefix = args.require("--out");
  o.model_type = args.get("--model-type", "bpe");
  if (args.has("--user-symbols"))
    for (const auto& s : split(args.get("--user-symbols"), ','))
      if (!s.empty()) o.user_defined_symbols.push_back(s);
  const std::string model = tokenizer::train_sentencepiece(o);
  const auto tok = tokenizer::load_tokenizer(model);
  std::printf("wrote %s (%s, %d pieces)\n", model.c_str(), o.model_type.c_str(), tok->vocab_size());
  return 0;
}

int cmd_prompt(const Argv& argv) {
  const Args args = parse_args(kPromptSpec, argv);
  config::PromptConfig c;
  c.template_name = args.get("--template", prompt::kRewardAnythingV1);
  c.chat_template = args.get("--chat-template", "qwen3");
  c.include_principle = !args.has("--no-principle");
  c.system_prompt_file = args.get("--system-prompt-file");
  if (args.has("--user-template-file"))
    c.user_template = read_file(args.get("--user-template-file"));
  const prompt::PromptTemplate tmpl = prompt::PromptTemplate::from_config(c);
  const auto chat = prompt::parse_chat_template(c.chat_template);

  const std::string& req_path = args.positional()[0];
  const prompt::JudgeRequest request =
      prompt::judge_request_from_json(read_json_file(req_path), req_path);
  std::vector<size_t> permutation;
  if (args.has("--permutation")) {
    for (const auto& p : split(args.get("--permutation"), ',')) {
      const std::string t = trim(p);
      if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError(
            "--permutation needs comma-separated indexes, got '" + args.get("--permutation") + "'",
            kPromptSpec.help_text());
      permutation.push_back(std::stoul(t));
    }
  }
  const prompt::RenderedPrompt rendered = tmpl.render(request, permutation);
  std::string out;
  if (args.has("--mapping")) {
    ordered_json m = ordered_json::object();
    for (const auto& [shown, real] : rendered.mapping) m[shown] = real;
    out = m.dump() + "\n";
  } else if (args.has("--chat")) {
    out = prompt::render_chat(chat, rendered.system, rendered.user);
  } else {
    out = rendered.user;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace principia::cli
