// A captured CUDA graph of one decoding step (generation.cpp): the step's few hundred kernel
// launches replay as one, so small-batch decoding runs at the GPU's pace instead of the host's.
// The CUDA implementation (decode_graph_cuda.cpp) is compiled only against a CUDA LibTorch; a
// CPU build has decode_graph_none.cpp, where capture is unavailable.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>

namespace principia::model {

class DecodeGraph {
 public:
  virtual ~DecodeGraph() = default;
  virtual void replay() = 0;  // on the current stream, with the tensors `step` captured
};

// Whether this build can capture CUDA graphs (a CUDA LibTorch).
bool decode_graphs_available();

// Runs `step` once on a side stream (warm-up: lazy initialisation must not happen during
// capture; the step must be idempotent for its inputs), then captures it. The step must use
// static shapes, allocate only inside itself and never synchronise with the host. Throws
// (principia::Error or the CUDA error) when capture fails; the caller can fall back to eager.
std::unique_ptr<DecodeGraph> capture_decode_graph(const std::function<void()>& step, const torch::Device& device);

}  // namespace principia::model
