#!/usr/bin/env bash
# Makes a Pulumi engine available to this project, offline-capable and idempotent:
#   1. the Pulumi CLI: an installed one (PATH or ~/.pulumi/bin) at or above the minimum
#      version is used as it is; otherwise it is built from Go modules;
#   2. the Node.js language host, beside the CLI (built from Go modules when missing);
#   3. the `command` resource plugin at exactly the version @pulumi/command asks for.
# A second run only checks versions and takes a few seconds.
# Prints, as its last line, the directory that holds `pulumi` (callers put it on PATH).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
toolchain="$here/toolchain"
# shellcheck source=toolchain/versions.env
source "$toolchain/versions.env"

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
install_dir="${PULUMI_INSTALL_DIR:-$HOME/.pulumi/bin}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

# True when version $1 >= $2 (both x.y.z, an optional leading v).
version_at_least() {
    [ "$(printf '%s\n%s\n' "${2#v}" "${1#v}" | sort -V | head -n1)" = "${2#v}" ]
}

# Runs "$@" and prints a line every 30 s, so a long first build does not look hung.
with_heartbeat() {
    local label=$1; shift
    local start=$SECONDS log
    log=$(mktemp)
    "$@" >"$log" 2>&1 &
    local pid=$!
    (while sleep 30; do say "  ... still $label ($((SECONDS - start)) s)"; done) &
    local heartbeat=$!
    local status=0
    wait "$pid" || status=$?
    kill "$heartbeat" 2>/dev/null || true
    wait "$heartbeat" 2>/dev/null || true
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "$label failed (output above)"
    fi
    rm -f "$log"
    say "  done in $((SECONDS - start)) s"
}

go_build() { # <wrapper dir> <package> <output> <version stamp>
    (cd "$1" && go build -trimpath \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$4" \
        -o "$3" "$2")
}

require_go() {
    command -v go >/dev/null 2>&1 && return 0
    die "no usable Pulumi CLI (>= $PULUMI_MIN_VERSION) and no Go toolchain to build one.
  Install Pulumi (https://www.pulumi.com/docs/install/), e.g. 'curl -fsSL https://get.pulumi.com | sh',
  or install Go 1.26+ and run this script again to build Pulumi from Go modules."
}

# --- 1. the CLI -------------------------------------------------------------------------
find_pulumi() {
    local candidate version
    for candidate in "$(command -v pulumi 2>/dev/null || true)" "$install_dir/pulumi"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        version=$("$candidate" version 2>/dev/null || true)
        if [ -n "$version" ] && version_at_least "$version" "$PULUMI_MIN_VERSION"; then
            echo "$candidate"
            return 0
        fi
        [ -n "$version" ] && say "ignoring $candidate: version $version is below $PULUMI_MIN_VERSION"
    done
    return 1
}

built_here=false
if pulumi_bin=$(find_pulumi); then
    say "using Pulumi $("$pulumi_bin" version) at $pulumi_bin"
else
    require_go
    mkdir -p "$install_dir"
    say "building the Pulumi CLI v$PULUMI_VERSION from Go modules into $install_dir"
    say "  (the first build takes 5 to 6 minutes on 2 cores; later runs reuse Go's cache)"
    with_heartbeat "building the Pulumi CLI" \
        go_build "$toolchain/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$install_dir/pulumi" "$PULUMI_VERSION"
    pulumi_bin="$install_dir/pulumi"
    built_here=true
fi
pulumi_dir=$(dirname "$pulumi_bin")
export PATH="$pulumi_dir:$PATH"

# --- 2. the Node.js language host ---------------------------------------------------------
if [ -x "$pulumi_dir/pulumi-language-nodejs" ] || command -v pulumi-language-nodejs >/dev/null 2>&1; then
    say "using the Node.js language host at $(command -v pulumi-language-nodejs)"
else
    require_go
    [ -w "$pulumi_dir" ] || die "$pulumi_dir has pulumi but no pulumi-language-nodejs, and is not writable; reinstall Pulumi."
    say "building the Node.js language host (v$LANGUAGE_HOST_VERSION) from Go modules into $pulumi_dir"
    say "  (the first build takes up to 2 minutes)"
    with_heartbeat "building the Node.js language host" \
        go_build "$toolchain/language-nodejs" github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 \
        "$pulumi_dir/pulumi-language-nodejs" "$LANGUAGE_HOST_VERSION"
fi

# --- 3. the command provider plugin --------------------------------------------------------
command_package="$root/node_modules/@pulumi/command/package.json"
[ -f "$command_package" ] || die "node_modules/@pulumi/command is missing: run 'npm ci' in $root first."
command_version=$(node -p "require('$command_package').version")

plugin_installed() { # <version>
    pulumi plugin ls --json 2>/dev/null | node -e '
        const want = process.argv[1];
        const plugins = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
        process.exit(plugins.some((p) => p.name === "command" && p.kind === "resource" && p.version === want) ? 0 : 1);
    ' "$1"
}

standin_js="$root/bin/scripts/toolchain/command-provider/provider.js"
standin_wrapper="$root/.state/plugins/pulumi-resource-command"
plugin_file="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-command-v$command_version/pulumi-resource-command"

install_standin() {
    # The official plugin cannot be had here: build the stand-in and register it under the
    # same name and version, so @pulumi/command finds it like the official one.
    if [ ! -f "$standin_js" ] || [ -n "$(find "$toolchain/command-provider" -newer "$standin_js" -name '*.ts')" ]; then
        say "compiling the stand-in command provider"
        (cd "$root" && npx --no-install tsc -p scripts/toolchain/command-provider/tsconfig.json)
    fi
    mkdir -p "$(dirname "$standin_wrapper")"
    # The registered plugin runs this clone's compiled stand-in; if the clone is moved or
    # deleted, it says so and how to register it again instead of failing obscurely.
    printf '%s\n' '#!/bin/sh' \
        '# Stand-in for pulumi-resource-command, installed by scripts/bootstrap-toolchain.sh.' \
        "provider=\"$standin_js\"" \
        '[ -f "$provider" ] || { echo "pulumi-resource-command: the stand-in command provider registered from $provider is gone (was that clone moved or deleted?). Run npm start or npm test (scripts/bootstrap-toolchain.sh) in a clone of this project to register it again." >&2; exit 1; }' \
        'exec node "$provider" "$@"' >"$standin_wrapper"
    chmod +x "$standin_wrapper"
    if cmp -s "$standin_wrapper" "$plugin_file"; then
        return 0
    fi
    say "registering the stand-in command provider as resource plugin command v$command_version"
    pulumi plugin install resource command "$command_version" --file "$standin_wrapper" --reinstall >/dev/null
}

if [ -f "$plugin_file" ] && grep -q 'Stand-in for pulumi-resource-command' "$plugin_file" 2>/dev/null; then
    install_standin # refresh: the project may have moved or the stand-in changed
elif plugin_installed "$command_version"; then
    say "using the installed command plugin v$command_version"
elif [ "$built_here" = false ] && timeout 120 pulumi plugin install resource command "$command_version" >/dev/null 2>&1; then
    say "downloaded the official command plugin v$command_version"
else
    say "the official command plugin v$command_version cannot be downloaded or built here; using the stand-in (see README)"
    install_standin
fi
plugin_installed "$command_version" || die "the command plugin v$command_version is still not listed by 'pulumi plugin ls'"

say "toolchain ready: $(pulumi version) with language host and command plugin v$command_version"
echo "$pulumi_dir"
