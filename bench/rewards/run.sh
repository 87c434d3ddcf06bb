#!/usr/bin/env bash
# Runs bench_rewards (single thread) and records the row under "## Rewards" in bench/RESULTS.md.
#   bench/rewards/run.sh BUILD_DIR [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:?usage: run.sh BUILD_DIR [N]}"
N="${2:-100000}"
ninja -C "$BUILD" -j 2 bench_rewards
CMD="$BUILD/bench/rewards/bench_rewards $N 8 3"
JSON="$($CMD)"
echo "$JSON"
MODEL="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
CORES="$(nproc)"
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt")"
python3 - "$ROOT/bench/RESULTS.md" "$JSON" "$MODEL" "$CORES" "$(date -u +%F)" \
    "bench/rewards/run.sh $(basename "$BUILD") $N  ($BUILD_TYPE; bench_rewards $N 8 3)" <<'PY'
import json, os, sys
path, raw, model, cores, date, cmd = sys.argv[1:]
r = json.loads(raw)
load = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
header = ("| date | machine | judgments × candidates | mean output bytes | judgments/s per core "
          "(CPU time) | judgments/s (wall) | command |\n|---|---|---|---|---|---|---|\n")
row = (f"| {date} | {model}, {cores} cores, load average {load} | {r['judgments']} × "
       f"{r['candidates']} | {r['mean_output_bytes']:.0f} | **{r['judgments_per_second']:,.0f}** "
       f"| {r['judgments'] / r['best_wall_seconds']:,.0f} | `{cmd}` |\n")
intro = ("Parse + full default reward (format 0.15 + weighted_pair 0.85, names mapped back to "
         "real ones) per judgment, one thread, best of 3 passes. Synthetic judge outputs: a "
         "200–1000 character think block, then the verdict (5% fenced, 5% single-quoted, 5% in "
         "prose, 5% truncated). Throughput per core is measured in thread CPU time because the "
         "machine is shared; wall-clock throughput is shown beside it. "
         "Goal: ≥ 200k judgments/s per core.\n\n")
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
lines = text.split("\n")
start = next((i for i, l in enumerate(lines) if l.strip() == "## Rewards"), None)
if start is None:
    text = text.rstrip("\n") + "\n\n## Rewards\n\n" + intro + header + row
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = "\n".join(lines[start:end])
    if "| date |" not in section:
        section = "## Rewards\n\n" + intro + header
    section = section.rstrip("\n") + "\n" + row
    text = "\n".join(lines[:start]) + ("\n" if start else "") + section + "\n" + \
           ("\n" + "\n".join(lines[end:]) if end < len(lines) else "")
open(path, "w").write(text)
PY
echo "updated $ROOT/bench/RESULTS.md"
