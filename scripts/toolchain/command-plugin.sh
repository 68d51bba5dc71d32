#!/usr/bin/env bash
# The official `command` resource plugin at the version @pulumi/command asks for.
#   command-plugin.sh ensure   installed -> `pulumi plugin install` -> built from a source tarball
#   command-plugin.sh verify   fails unless the plugin pulumi loads is the official binary
# Needs `pulumi` on PATH (scripts/bootstrap-toolchain.sh puts it there).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
say() { printf '[command-plugin] %s\n' "$*" >&2; }
die() { printf '[command-plugin] error: %s\n' "$*" >&2; exit 1; }

package_json="$root/node_modules/@pulumi/command/package.json"
[ -f "$package_json" ] || die "node_modules/@pulumi/command is missing: run 'npm ci' in $root first."
version=$(node -p "require('$package_json').version")
plugin_file="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-command-v$version/pulumi-resource-command"
# Where these machines keep upstream sources for offline builds (see ../shared/vendor/README.md).
vendored="$root/../shared/vendor/pulumi-command-$version-src.tar.gz"
source_tarball="${BLUEGREEN_COMMAND_PLUGIN_SOURCE:-$vendored}"

# The official plugin is a Go program whose main package is pulumi-command's; Go records that
# path in every binary it builds (what `go version -m` prints), so no Go is needed to read it.
is_official() {
    [ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] &&
        grep -aq $'path\tgithub.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command' "$1"
}

listed() {
    pulumi plugin ls --json 2>/dev/null | node -e '
        const plugins = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
        const wanted = (p) => p.name === "command" && p.kind === "resource" && p.version === process.argv[1];
        process.exit(plugins.some(wanted) ? 0 : 1);
    ' "$version"
}

# shellcheck source=heartbeat.sh
source "$root/scripts/toolchain/heartbeat.sh"

build_from_source() { # <tarball>
    local tarball=$1 top
    command -v go >/dev/null 2>&1 ||
        die "building the command plugin from $tarball needs Go 1.25+ (its go.mod says so)."
    top=$(tar -tzf "$tarball" 2>/dev/null | awk -F/ 'NR == 1 { print $1 }') ||
        die "$tarball is not a gzipped tarball (BLUEGREEN_COMMAND_PLUGIN_SOURCE must name pulumi-command's source)."
    [ "$top" = "pulumi-command-$version" ] ||
        die "$tarball holds '$top', but @pulumi/command asks for plugin v$version: point
  BLUEGREEN_COMMAND_PLUGIN_SOURCE at pulumi-command-$version's source (its top directory is pulumi-command-$version/)."
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    tar -xzf "$tarball" -C "$work"
    [ -d "$work/$top/provider/cmd/pulumi-resource-command" ] ||
        die "$tarball has no provider/cmd/pulumi-resource-command: not pulumi-command's source."
    say "building the official command plugin v$version from $tarball"
    say "  (the first build takes about 2 minutes on 2 cores; later ones reuse Go's cache)"
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    with_heartbeat "building the command plugin" bash -c 'cd "$1/provider" && go build -trimpath -o "$2" \
        -ldflags "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$3" ./cmd/pulumi-resource-command' \
        _ "$work/$top" "$work/pulumi-resource-command" "$version"
    pulumi plugin install resource command "$version" --file "$work/pulumi-resource-command" --reinstall >/dev/null
}

ensure() {
    if [ -e "$plugin_file" ]; then
        if is_official "$plugin_file" && listed; then
            say "using the official command plugin v$version at $plugin_file"
            return 0
        fi
        # Earlier versions of this project registered another program under this name.
        say "replacing $plugin_file: it is not the official pulumi-command binary"
        pulumi plugin rm resource command "$version" --yes >/dev/null 2>&1 || rm -rf "$(dirname "$plugin_file")"
    fi
    if timeout 60 pulumi plugin install resource command "$version" >/dev/null 2>&1 && is_official "$plugin_file"; then
        say "installed the official command plugin v$version (pulumi plugin install)"
    elif [ -f "$source_tarball" ]; then
        build_from_source "$source_tarball"
    else
        die "the official command plugin v$version is not installed, cannot be downloaded here, and there is no source
  tarball at ${BLUEGREEN_COMMAND_PLUGIN_SOURCE:-$vendored}. Any one of these gets it:
  - where the network allows: pulumi plugin install resource command $version
  - from its release binary: pulumi plugin install resource command $version --file <pulumi-resource-command>
  - from source: BLUEGREEN_COMMAND_PLUGIN_SOURCE=<pulumi-command-$version source .tar.gz> npm start"
    fi
    verify
}

verify() {
    listed ||
        die "'pulumi plugin ls' does not list the command plugin v$version:" \
            "run npm start (or scripts/bootstrap-toolchain.sh)."
    is_official "$plugin_file" ||
        die "$plugin_file is not the official pulumi-command binary. Remove it
  (pulumi plugin rm resource command $version) and run npm start to get the official one."
    echo "$plugin_file"
}

case "${1:-}" in
    ensure) ensure ;;
    verify) verify ;;
    *) die "usage: $0 ensure|verify" ;;
esac
