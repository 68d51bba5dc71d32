#!/usr/bin/env bash
# Makes a Pulumi engine available to this project, offline-capable and idempotent:
#   1. the Pulumi CLI: an installed one (PATH or ~/.pulumi/bin) at or above the minimum
#      version is used as it is; otherwise it is built from Go modules;
#   2. the Node.js language host, beside the CLI (built from Go modules when missing);
#   3. the official `command` resource plugin at the version @pulumi/command asks for
#      (toolchain/command-plugin.sh: installed, downloaded, or built from its source tarball).
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

# shellcheck source=toolchain/heartbeat.sh
source "$toolchain/heartbeat.sh"

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
        if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
        version=$("$candidate" version 2>/dev/null || true)
        if [ -n "$version" ] && version_at_least "$version" "$PULUMI_MIN_VERSION"; then
            echo "$candidate"
            return 0
        fi
        [ -n "$version" ] && say "ignoring $candidate: version $version is below $PULUMI_MIN_VERSION"
    done
    return 1
}

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
fi
pulumi_dir=$(dirname "$pulumi_bin")
export PATH="$pulumi_dir:$PATH"

# --- 2. the Node.js language host ---------------------------------------------------------
if [ -x "$pulumi_dir/pulumi-language-nodejs" ] || command -v pulumi-language-nodejs >/dev/null 2>&1; then
    say "using the Node.js language host at $(command -v pulumi-language-nodejs)"
else
    require_go
    [ -w "$pulumi_dir" ] ||
        die "$pulumi_dir has pulumi but no pulumi-language-nodejs, and is not writable; reinstall Pulumi."
    say "building the Node.js language host (v$LANGUAGE_HOST_VERSION) from Go modules into $pulumi_dir"
    say "  (the first build takes up to 2 minutes)"
    with_heartbeat "building the Node.js language host" \
        go_build "$toolchain/language-nodejs" github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 \
        "$pulumi_dir/pulumi-language-nodejs" "$LANGUAGE_HOST_VERSION"
fi

# --- 3. the official command plugin ---------------------------------------------------------
bash "$toolchain/command-plugin.sh" ensure >/dev/null
command_version=$(node -p "require('$root/node_modules/@pulumi/command/package.json').version")

say "toolchain ready: $(pulumi version) with language host and command plugin v$command_version"
echo "$pulumi_dir"
