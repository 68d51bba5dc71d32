#!/usr/bin/env bash
# `npm stop`: destroys the local stack (drains and stops the apps, stops nginx gracefully),
# then checks that no process the stack started is left.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[stop] %s\n' "$*" >&2; }

[ -f .envrc ] || { say "nothing to stop: no .envrc (npm start writes it)"; exit 0; }
# shellcheck disable=SC1091
source .envrc
pulumi stack select local >/dev/null 2>&1 || { say "nothing to stop: there is no local stack"; exit 0; }
state_dir=$(pulumi config get stateDir 2>/dev/null || echo .state/local)
pulumi destroy --yes --message "npm stop"

left=0
while IFS= read -r pid_file; do
    pid=$(cat "$pid_file" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "still running: pid $pid ($pid_file)"
        left=$((left + 1))
    fi
done < <(find "$state_dir" -name '*.pid' 2>/dev/null)
[ "$left" -eq 0 ] || { say "error: $left process(es) still running after destroy"; exit 1; }
say "stopped: no process of the local stack is running"
