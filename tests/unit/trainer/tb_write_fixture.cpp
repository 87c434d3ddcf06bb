// Writes known scalars with principia's TensorBoard writer, for tests/interop/test_tensorboard.py:
//   tb_write_fixture OUT_DIR
// steps 0..4, tags: "reward/mean" = 0.5 + 0.1·step, "loss/pg" = −0.25·step,
// "time/rollout_s" = 1.5; then, as a run resumed from step 2 would, a session START at step 3
// and steps 3, 4 again with "reward/mean" = 10 + step, "loss/pg" = −10·step,
// "time/rollout_s" = 1.5; then step 1000000 with "reward/mean" = 3.0 (multi-byte varint).
// wall_time = 1700000000 + step. Prints the event file's path.
#include <cstdio>
#include <exception>

#include "trainer/tensorboard.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tb_write_fixture OUT_DIR\n");
    return 2;
  }
  try {
    principia::trainer::TensorBoardWriter w(argv[1]);
    for (int step = 0; step < 5; ++step) {
      w.add_scalars(step,
                    {{"reward/mean", 0.5f + 0.1f * float(step)},
                     {"loss/pg", -0.25f * float(step)},
                     {"time/rollout_s", 1.5f}},
                    1700000000.0 + step);
    }
    w.add_session_start(3, 1700000000.0 + 3);
    for (int step = 3; step < 5; ++step) {
      w.add_scalars(step,
                    {{"reward/mean", 10.0f + float(step)},
                     {"loss/pg", -10.0f * float(step)},
                     {"time/rollout_s", 1.5f}},
                    1700000000.0 + step);
    }
    w.add_scalars(1000000, {{"reward/mean", 3.0f}}, 1700000000.0 + 1000000);
    w.flush();
    std::printf("%s\n", w.path().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tb_write_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
