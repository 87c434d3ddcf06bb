// CUDA builds: capture and replay through ATen's CUDAGraph (what torch.cuda.graph wraps).
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>

#include "core/error.h"
#include "model/decode_graph.h"

namespace principia::model {
namespace {

class CudaDecodeGraph final : public DecodeGraph {
 public:
  void replay() override { graph.replay(); }
  at::cuda::CUDAGraph graph;
};

}  // namespace

bool decode_graphs_available() { return true; }

std::unique_ptr<DecodeGraph> capture_decode_graph(const std::function<void()>& step, const torch::Device& device) {
  if (!device.is_cuda()) throw Error("CUDA graphs: the model is on " + device.str() + ", not a CUDA device");
  c10::cuda::CUDAGuard device_guard(device);
  auto g = std::make_unique<CudaDecodeGraph>();
  // Capture needs a side stream; the inputs were written on the current one, so drain it first.
  auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  torch::cuda::synchronize(device.index());
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    step();  // warm-up: cuBLAS handles, first-launch initialisation, allocator growth
    side.synchronize();
    g->graph.capture_begin();
    try {
      step();
    } catch (...) {
      try {
        g->graph.capture_end();  // leave capture mode so the stream and the allocator recover
      } catch (...) {
      }
      throw;
    }
    g->graph.capture_end();
  }
  torch::cuda::synchronize(device.index());
  return g;
}

}  // namespace principia::model
