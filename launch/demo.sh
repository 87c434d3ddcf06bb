#!/usr/bin/env bash
# The demo (configs/demo-lenient-teacher.yaml): installs what is missing, builds the binary, and
# trains it as a one-variant sweep into runs/demo/ (the run in runs/demo/demo-lenient-teacher/,
# its log in runs/demo/logs/), then prints the run's before/after table and the sweep summary,
# whose chart is runs/demo/sweep.svg. Run again, it finds the finished run and only reprints.
# Extra arguments are config overrides, e.g. `launch/demo.sh trainer.max_steps=10` (a finished
# run with other settings is refused: use another --out, below).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PRINCIPIA_BUILD_DIR:-$root/build}"
out="${PRINCIPIA_DEMO_OUT:-runs/demo}"
bash "$root/launch/setup.sh"
bash "$root/launch/build.sh" principia
cd "$root"
"$build/cli/principia" sweep configs/demo.yaml "$@" --configs configs/demo-lenient-teacher.yaml --out "$out"
echo
echo "The run's evaluations (held-out weighted_pair and the rest, before SFT, after SFT, every 10 GRPO steps):"
sed -n '/^| model |/,/^$/p' "$out/logs/demo-lenient-teacher.log"
cat "$out/sweep.md"
echo "chart: $out/sweep.svg (open it in a browser)"
