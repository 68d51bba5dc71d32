#!/usr/bin/env bash
# `npm stop`: destroys the local stack (drains and stops the apps, stops nginx gracefully),
# then checks that no process the stack started is left.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[stop] %s\n' "$*" >&2; }

[ -f .envrc ] || { say "nothing to stop: no .envrc (npm start writes it)"; exit 0; }
# shellcheck disable=SC1091 # .envrc is written by scripts/local-env.sh, not in the repository
source .envrc
# After a killed `pulumi up` the stack is locked, and rarely unreadable: recover says what it fixes.
recover_hint="If a pulumi up was killed, run npm run recover first (docs/runbook.md, 'An interrupted update')."
if ! selected=$(pulumi stack select local 2>&1 >/dev/null); then
    case $selected in
        *"no stack named"*) say "nothing to stop: there is no local stack"; exit 0 ;;
        *) say "error: $selected"; say "$recover_hint"; exit 1 ;;
    esac
fi
state_dir=$(pulumi config get stateDir 2>/dev/null || echo .state/local)
pulumi destroy --yes --message "npm stop" || { say "error: pulumi destroy failed (above). $recover_hint"; exit 1; }

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
