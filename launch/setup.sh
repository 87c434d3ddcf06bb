#!/usr/bin/env bash
# Installs everything principia needs on Debian: system packages and the Python venv
# (CPU LibTorch + the Python clients the interop tests use). Idempotent: seconds when done.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PRINCIPIA_VENV:-$root/.venv}"

debs=(build-essential cmake ninja-build ccache pkg-config
      libyaml-cpp-dev libsentencepiece-dev sentencepiece libhdf5-dev hdf5-tools
      nlohmann-json3-dev libpcre2-dev libutf8proc-dev libgtest-dev libgmock-dev
      clang libclang-rt-14-dev iproute2 python3-venv
      libgloo-dev)  # headers for c10d::ProcessGroupGloo (the CPU LibTorch has its code, not them)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python venv: the CPU LibTorch (inside the torch wheel) and the real clients for interop tests.
py_pkgs=(torch==2.13.0 numpy transformers safetensors tensorboard h5py sentencepiece tiktoken pytest)
stamp="$venv/.principia-setup"
want="$(printf '%s\n' "${py_pkgs[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  echo "setup: installing Python packages into $venv"
  # This machine's pip.conf names local mirrors that may be absent: hide those warnings only.
  "$venv/bin/pip" install -q --disable-pip-version-check "${py_pkgs[@]}" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "setup: pip install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi

# The serving clients' own venvs (RewardAnything, vLLM) for the serving interop tests: never fatal,
# a client that does not install is reported and its test skips.
bash "$root/launch/setup_serving_venvs.sh" || echo "setup: serving venvs skipped (launch/setup_serving_venvs.sh failed)"
