#!/usr/bin/env bash
# The demo (configs/demo.yaml): installs what is missing, builds the binary, trains.
# Extra arguments are config overrides, e.g. `launch/demo.sh trainer.max_steps=10`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PRINCIPIA_BUILD_DIR:-$root/build}"
bash "$root/launch/setup.sh"
bash "$root/launch/build.sh" principia
cd "$root"
exec "$build/cli/principia" train configs/demo.yaml "$@"
