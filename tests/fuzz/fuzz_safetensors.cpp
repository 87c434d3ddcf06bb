// libFuzzer: any bytes as a .safetensors file. The header checks either reject the file with
// principia::Error or accept it, and then every tensor lies inside the mapping with
// numel x dtype size == its byte span. Never a crash, an out-of-bounds read or another exception.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "model/safetensors.h"

using namespace principia;
using namespace principia::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  static const std::string path = [] {
    std::string p = "/tmp/principia-fuzz-safetensors-" + std::to_string(::getpid());
    std::atexit([] { std::remove(("/tmp/principia-fuzz-safetensors-" + std::to_string(::getpid())).c_str()); });
    return p;
  }();
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size) std::fwrite(bytes, 1, size, f);
    std::fclose(f);
  } else {
    std::abort();
  }
  try {
    SafetensorsFile file(path);
    uint64_t sum = 0;
    for (const auto& t : file.tensors()) {
      if (size_t(t.numel()) * st_dtype_size(t.dtype) != t.nbytes) std::abort();
      if (t.nbytes && (t.data == nullptr)) std::abort();
      for (size_t i = 0; i < t.nbytes; i += 97) sum += uint8_t(t.data[i]);  // ASan checks bounds
      if (file.find(t.name) != &t) std::abort();
    }
    if (sum == 1) std::fputc(0, stderr);  // keeps the reads from being optimised away
  } catch (const Error&) {
  }
  return 0;
}
