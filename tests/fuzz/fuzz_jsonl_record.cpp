// libFuzzer: any bytes as one dataset JSONL line. parse_record never throws, crashes or trips a
// sanitizer; an accepted record passes check_record and survives its own serialisation.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "data/record.h"

using namespace principia::data;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(bytes), size);
  ParseResult r = parse_record(line, 1 << 20);
  if (!r.ok()) {
    if (r.problem.reason.empty()) std::abort();  // every rejection says why
    return 0;
  }
  if (check_record(*r.record)) std::abort();
  ParseResult again = parse_record(record_to_line(*r.record), 1 << 22);
  if (!again.ok() || record_to_line(*again.record) != record_to_line(*r.record)) std::abort();
  return 0;
}
