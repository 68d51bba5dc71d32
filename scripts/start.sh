#!/usr/bin/env bash
# `npm start`: the local blue-green stack, serving. (The local target is the next step; until
# it lands this sets up the toolchain and says so.)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh" >/dev/null
echo "npm start: the toolchain is ready, but the local target is not implemented yet." >&2
exit 1
