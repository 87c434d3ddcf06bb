// Hugging Face tokenizer.json (byte-level BPE) -> BpeSpec. Supports what Qwen2/Qwen3, Llama-3,
// GPT-2 and DeepSeek ship: normalizer null | NFC | Sequence of those; pre_tokenizer ByteLevel or
// Sequence of Split(Regex, Isolated) + ByteLevel(use_regex=false); model BPE; decoder ByteLevel.
// Anything else is refused with the JSON path of the unsupported part.
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "model/tokenizer/bpe_loaders.h"

namespace principia::tokenizer {

namespace {

// Plain (sorted-map) json: ordered_json inserts are linear, far too slow for 150k-entry vocabs.
using json = nlohmann::json;

struct Reader {
  std::string path;
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(SourceLocation{path, 0, 0}, key, why);
  }
};

void read_normalizer(const Reader& r, const json& j, const std::string& key, BpeSpec* spec) {
  if (j.is_null()) return;
  const std::string type = j.value("type", "");
  if (type == "NFC") {
    spec->nfc = true;
  } else if (type == "Sequence") {
    size_t i = 0;
    for (const auto& n : j.at("normalizers"))
      read_normalizer(r, n, key + ".normalizers[" + std::to_string(i++) + "]", spec);
  } else {
    r.fail(key, "unsupported normalizer '" + type + "' (supported: NFC)");
  }
}

void read_pre_tokenizer(const Reader& r, const json& j, const std::string& key, BpeSpec* spec) {
  if (j.is_null()) return;
  const std::string type = j.value("type", "");
  if (type == "ByteLevel") {
    spec->add_prefix_space = j.value("add_prefix_space", false);
    if (j.value("use_regex", true))
      spec->split_patterns.push_back(named_pretokenizer_pattern("gpt2"));
  } else if (type == "Split") {
    const json& pattern = j.at("pattern");
    if (!pattern.contains("Regex"))
      r.fail(key + ".pattern", "only Regex split patterns are supported");
    if (j.value("behavior", "") != "Isolated")
      r.fail(key + ".behavior", "only the Isolated split behavior is supported");
    if (j.value("invert", false)) r.fail(key + ".invert", "inverted splits are not supported");
    spec->split_patterns.push_back(pattern.at("Regex").get<std::string>());
  } else if (type == "Sequence") {
    size_t i = 0;
    for (const auto& p : j.at("pretokenizers"))
      read_pre_tokenizer(r, p, key + ".pretokenizers[" + std::to_string(i++) + "]", spec);
  } else {
    r.fail(key, "unsupported pre-tokenizer '" + type + "' (supported: ByteLevel, Split, Sequence)");
  }
}

// tokenizer_config.json's bos_token etc. are either a string or {"content": str, ...}.
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return "";
}

}  // namespace

BpeSpec read_hf_tokenizer_json(const std::string& path) {
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  const Reader r{path};
  BpeSpec spec;
  spec.kind = "bpe";
  spec.origin = path;
  try {
    if (!j.is_object() || !j.contains("model")) r.fail("", "not a tokenizer.json: no 'model'");
    const json& model = j.at("model");
    const std::string type = model.value("type", "BPE");
    if (type != "BPE")
      r.fail("model.type", "unsupported model type '" + type + "' (supported: BPE)");
    if (model.contains("continuing_subword_prefix") &&
        !model["continuing_subword_prefix"].is_null() &&
        !model["continuing_subword_prefix"].get<std::string>().empty())
      r.fail("model.continuing_subword_prefix", "not supported for byte-level BPE");
    if (model.contains("end_of_word_suffix") && !model["end_of_word_suffix"].is_null() &&
        !model["end_of_word_suffix"].get<std::string>().empty())
      r.fail("model.end_of_word_suffix", "not supported for byte-level BPE");
    spec.whole_token_first = model.value("ignore_merges", false);

    const json& decoder = j.value("decoder", json());
    if (!decoder.is_null() && decoder.value("type", "") != "ByteLevel")
      r.fail("decoder.type", "unsupported decoder '" + decoder.value("type", "") +
                                 "' (only byte-level BPE tokenizers are supported)");
    read_normalizer(r, j.value("normalizer", json()), "normalizer", &spec);
    read_pre_tokenizer(r, j.value("pre_tokenizer", json()), "pre_tokenizer", &spec);

    // Vocabulary: token spelling (byte-unicode) -> id.
    const json& vocab = model.at("vocab");
    if (!vocab.is_object()) r.fail("model.vocab", "expected an object {token: id}");
    int32_t max_id = -1;
    for (const auto& [tok, id] : vocab.items()) max_id = std::max(max_id, id.get<int32_t>());
    std::vector<json> added;
    if (j.contains("added_tokens") && j["added_tokens"].is_array())
      for (const auto& a : j["added_tokens"]) {
        added.push_back(a);
        max_id = std::max(max_id, a.at("id").get<int32_t>());
      }
    if (max_id < 0 || max_id > (1 << 24))
      r.fail("model.vocab",
             "token ids must lie in 0..16777216 (largest is " + std::to_string(max_id) + ")");
    spec.token_bytes.assign(max_id + 1, "");
    spec.token_names.assign(max_id + 1, "");
    std::string bytes;
    std::unordered_map<std::string, int32_t> vocab_ids;  // ordered_json lookups are linear
    vocab_ids.reserve(vocab.size());
    for (const auto& [tok, id_json] : vocab.items()) {
      const int32_t id = id_json.get<int32_t>();
      vocab_ids[tok] = id;
      if (id < 0) r.fail("model.vocab." + tok, "negative id");
      spec.token_names[id] = tok;
      // A vocabulary entry outside the byte alphabet can only be an added token; keep its text.
      spec.token_bytes[id] = unicode_to_bytes(tok, &bytes) ? bytes : tok;
    }
    for (const auto& a : added) {
      const int32_t id = a.at("id").get<int32_t>();
      const std::string content = a.at("content").get<std::string>();
      spec.added.push_back({content, id});
      spec.token_bytes[id] = content;
      spec.token_names[id] = content;
    }

    // Merges: "a b" strings (older files) or ["a", "b"] pairs (newer ones).
    const json& merges = model.at("merges");
    spec.merges.reserve(merges.size());
    size_t rank = 0;
    for (const auto& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        if (sp == std::string::npos)
          r.fail("model.merges[" + std::to_string(rank) + "]", "expected 'a b'");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        r.fail("model.merges[" + std::to_string(rank) + "]", "expected 'a b' or [a, b]");
      }
      const auto ia = vocab_ids.find(a), ib = vocab_ids.find(b);
      if (ia == vocab_ids.end() || ib == vocab_ids.end())
        r.fail("model.merges[" + std::to_string(rank) + "]",
               "token '" + (ia == vocab_ids.end() ? a : b) + "' is not in model.vocab");
      spec.merges.emplace_back(ia->second, ib->second);
      ++rank;
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed tokenizer.json: " + e.what());
  }

  // Special token roles from tokenizer_config.json, when the directory has one.
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    json config;
    try {
      config = json::parse(read_file(config_path.string()));
    } catch (const nlohmann::json::exception& e) {
      throw Error(config_path.string() + ": not valid JSON: " + e.what());
    }
    const auto role = [&](const char* key) -> int32_t {
      if (!config.contains(key)) return -1;
      const std::string text = token_text(config[key]);
      for (const auto& a : spec.added)
        if (a.text == text) return a.id;
      return -1;
    };
    spec.bos = role("bos_token");
    spec.eos = role("eos_token");
    spec.pad = role("pad_token");
  }
  return spec;
}

}  // namespace principia::tokenizer
