#!/bin/sh
# Builds the Node addon, prebuilds/linux-x64/digit-recognizer.node, from this folder's C with the
# machine's gcc against the Node-API headers of the node-api-headers package (no node-gyp, no
# download). Node-API is ABI-stable: one binary serves every Node the package supports.
#
#   native/node/build.sh            build (npm run build:native; `prepare` runs it in a clone)
#   native/node/build.sh --if-gcc   the same, but say so in one line and succeed where gcc is missing
#   native/node/build.sh --emulated-avx512 FILE
#                                   for tests only, on a CPU without AVX-512: the avx512 path's 12 x 32
#                                   tile compiled for AVX2 (GCC splits each 16-float vector in two) and
#                                   offered wherever AVX2 runs, so that its tiling is checked on any
#                                   x86-64 with AVX2; written to FILE, never to prebuilds/
#
# The micro-kernel is compiled once per ISA from one source (ukernel.c, see its header); everything
# else targets plain x86-64, and ops.c picks the widest path the CPU has when the addon loads.
# The glibc floor is 2.17: glibc_floor.h binds pthread_create to its oldest version, so a build on
# a new Debian still loads where Node's own linux-x64 builds run (glibc 2.28 and later).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/prebuilds/linux-x64"
target="$out/digit-recognizer.node"
avx512="-mavx512f"
ops_flags=""
if [ "${1:-}" = "--emulated-avx512" ]; then
  target=${2:?"native/node/build.sh: --emulated-avx512 needs the output file"}
  out=$(dirname "$target")
  # -Wno-psabi: GCC notes that 64-byte vectors pass differently without AVX-512; they never cross a call here.
  avx512="-mavx2 -mfma -Wno-psabi"
  ops_flags="-DDIGIT_EMULATED_AVX512"
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "native/node/build.sh: builds for linux-x64 only (this is $(uname -s)-$(uname -m)); the package falls back to WebAssembly here" >&2
  exit 0
fi
if ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
  if [ "${1:-}" = "--if-gcc" ]; then
    echo "native/node/build.sh: no gcc here, so no native kernels: the package will run on WebAssembly (apt-get install gcc, then npm run build:native)" >&2
    exit 0
  fi
  echo "native/node/build.sh: gcc not found" >&2
  exit 1
fi
headers="$root/node_modules/node-api-headers/include"
[ -f "$headers/node_api.h" ] || { echo "native/node/build.sh: node-api-headers is not installed (npm install)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# -fno-math-errno etc. are not needed: the kernels call no libm. -ffp-contract=fast fuses a*b+c
# into one FMA where the ISA has it (GCC's default for GNU C, stated for clarity).
flags="-O3 -std=gnu11 -fPIC -fvisibility=hidden -ffp-contract=fast -Wall -Wextra -Werror -I$headers -include $here/glibc_floor.h"
cc=${CC:-gcc}
$cc $flags -DVW=16 $avx512 -c "$here/ukernel.c" -o "$tmp/ukernel_avx512.o"
$cc $flags -DVW=8 -mavx2 -mfma -c "$here/ukernel.c" -o "$tmp/ukernel_avx2.o"
$cc $flags -DVW=4 -c "$here/ukernel.c" -o "$tmp/ukernel_sse2.o"
$cc $flags $ops_flags -c "$here/ops.c" -o "$tmp/ops.o"
for f in pool addon; do $cc $flags -c "$here/$f.c" -o "$tmp/$f.o"; done
mkdir -p "$out"
$cc -shared -static-libgcc -Wl,--as-needed -Wl,-z,noexecstack -Wl,--exclude-libs,ALL -s -o "$tmp/digit-recognizer.node" "$tmp"/*.o -lpthread
# The floor holds only if no newer symbol version slipped in.
newest=$(objdump -T "$tmp/digit-recognizer.node" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -n 1)
case "$newest" in
  GLIBC_2.2.5|GLIBC_2.3|GLIBC_2.3.2|GLIBC_2.3.4|GLIBC_2.14|GLIBC_2.16|GLIBC_2.17|"") ;;
  *) echo "native/node/build.sh: the addon needs $newest, above the stated glibc floor 2.17" >&2; exit 1 ;;
esac
mv "$tmp/digit-recognizer.node" "$target"
# On stderr: npm pack --json prints its report on stdout, after this lifecycle script.
echo "native/node/build.sh: ${target#"$root"/} ($(wc -c < "$target") bytes, glibc symbols up to ${newest:-none})" >&2
