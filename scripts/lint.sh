#!/usr/bin/env bash
# `npm run lint`: layout (prettier), TypeScript (eslint) and every shell script (shellcheck).
# All three run; the command fails if any of them found something.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '[lint] %s\n' "$*" >&2; }

# shell_files: every shell script in the checkout (tracked, or new and not ignored): *.sh, and
# files whose first line runs sh or bash (.ci/run).
shell_files() {
    local file
    git ls-files --cached --others --exclude-standard | while IFS= read -r file; do
        [ -f "$file" ] || continue
        case $file in
            *.sh) echo "$file" ;;
            *) if head -n 1 "$file" | grep -qE '^#!.*\b(ba)?sh\b'; then echo "$file"; fi ;;
        esac
    done
}

failed=()
mapfile -t scripts < <(shell_files)
say "prettier --check"
npx --no-install prettier --check --log-level warn . || failed+=(prettier)
say "eslint"
npx --no-install eslint . || failed+=(eslint)
# eslint's max-len covers TypeScript; every other source file is held to the same 120
# characters here (grep counts characters, not bytes, in a UTF-8 locale).
say "line length (shell, JavaScript, templates, workflows)"
mapfile -t other_sources < <(git ls-files --cached --others --exclude-standard \
    '*.js' '*.mjs' '*.hbs' '*.yml' '*.yaml' '*.json' ':!package-lock.json' ':!docs/benchmarks.json')
if LC_ALL=C.UTF-8 grep -nE '^.{121,}' "${scripts[@]}" "${other_sources[@]}"; then failed+=(line-length); fi
if command -v shellcheck >/dev/null 2>&1; then
    say "shellcheck (${#scripts[@]} scripts)"
    # Template scripts have no shebang: each says `# shellcheck shell=bash`. .shellcheckrc
    # makes `# shellcheck source=` paths relative to the script.
    shellcheck "${scripts[@]}" || failed+=(shellcheck)
else
    say "error: shellcheck is not installed. Install it: sudo apt-get install shellcheck"
    failed+=(shellcheck)
fi

if [ ${#failed[@]} -gt 0 ]; then
    say "failed: ${failed[*]} (npm run format fixes the layout)"
    exit 1
fi
say "clean"
