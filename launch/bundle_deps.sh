#!/usr/bin/env bash
# Bundles the Debian packages principia builds against (everything but LibTorch) into deps/,
# for a machine that reaches no package registry (the lent GPU machines): run this on a Debian
# 12 machine with apt, then carry deps/ with the source tree (launch/gpu_check.sh uses it).
#   launch/bundle_deps.sh [OUT_DIR]        (default: deps/ in the checkout; ignored by git)
# The folder holds the packages unpacked as a root filesystem (deps/root/usr/...), minus
# documentation. Runtime libraries that the target machine already has are used from there
# (gpu_check.sh links only the missing ones), so the bundle's copies never shadow the system's.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/deps}"

# Headers + libraries for the build, and the runtime libraries they need beyond a base system
# (libhdf5 needs libcurl and its TLS/auth stack; a CUDA image may lack them).
pkgs=(
  libyaml-cpp-dev libyaml-cpp0.7
  libsentencepiece-dev libsentencepiece0
  libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libhdf5-cpp-103-1 libhdf5-hl-cpp-100 libaec0 libsz2
  nlohmann-json3-dev
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3
  libutf8proc-dev libutf8proc2
  libgtest-dev libgmock-dev
  libgloo-dev
  pkgconf pkgconf-bin libpkgconf3
  libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1 libbrotli1 libldap-2.5-0 libsasl2-2
  libsasl2-modules-db libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1
  libgnutls30 libnettle8 libhogweed6 libgmp10 libp11-kit0 libtasn1-6 libidn2-0 libunistring2
  libffi8 libzstd1 libssl3
)

rm -rf "$out.partial"
mkdir -p "$out.partial/debs" "$out.partial/root"
(cd "$out.partial/debs" && apt-get download "${pkgs[@]}" 2>&1 | grep -v "^Get:\|^Fetched\|unsandboxed" || true)
n=$(ls "$out.partial/debs"/*.deb | wc -l)
[ "$n" -eq "${#pkgs[@]}" ] || { echo "bundle_deps: downloaded $n of ${#pkgs[@]} packages" >&2; exit 1; }
for d in "$out.partial/debs"/*.deb; do dpkg-deb -x "$d" "$out.partial/root"; done
rm -rf "$out.partial/root/usr/share/doc" "$out.partial/root/usr/share/man" "$out.partial/root/usr/share/lintian" \
       "$out.partial/root/usr/src" "$out.partial/debs"
# Static archives are not used (shared linking), except GoogleTest's, which ships only those.
find "$out.partial/root" -name '*.a' ! -name 'libgtest*' ! -name 'libgmock*' -delete
rm -rf "$out.partial/root/usr/share/locale"
# What was bundled, for the record (gpu_check.sh prints it).
dpkg-query -W -f='${Package} ${Version}\n' "${pkgs[@]}" 2>/dev/null > "$out.partial/PACKAGES" || \
  printf '%s\n' "${pkgs[@]}" > "$out.partial/PACKAGES"
rm -rf "$out"
mv "$out.partial" "$out"
echo "bundle_deps: ${#pkgs[@]} packages in $out ($(du -sh "$out" | cut -f1))"
