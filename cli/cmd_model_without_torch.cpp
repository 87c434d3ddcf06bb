// Verbs that need tensors, in a build configured with -DPRINCIPIA_WITH_TORCH=OFF.
#include <cstdio>

#include "cli/commands.h"

namespace principia::cli {
static int without_torch(const char* verb) {
  std::fprintf(stderr,
               "principia %s: this binary was built without LibTorch "
               "(-DPRINCIPIA_WITH_TORCH=OFF); rebuild with LibTorch to use it\n", verb);
  return kNotLandedExit;
}
int cmd_export(const Argv&) { return without_torch("export"); }
int cmd_generate(const Argv&) { return without_torch("generate"); }
}  // namespace principia::cli
