// CPU LibTorch builds: no CUDA graphs (decode_graph_cuda.cpp is the CUDA build's version).
#include "core/error.h"
#include "model/decode_graph.h"

namespace principia::model {

bool decode_graphs_available() { return false; }

std::unique_ptr<DecodeGraph> capture_decode_graph(const std::function<void()>&, const torch::Device&) {
  throw Error("CUDA graphs need a CUDA build of LibTorch (this build has none)");
}

}  // namespace principia::model
