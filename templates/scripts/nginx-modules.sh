# shellcheck shell=bash
# nginx's Lua module, which the no-reload switch needs (with the NDK it depends on): where this
# nginx loads modules from, whether the module is there, and installing it where apt-get can.
# Shared by nginx-switch.sh and the ssh target's reach check of the nginx host.
# optional: HOST_NAME

# nginx_modules_dir NGINX_BIN: the directory this nginx loads modules from.
nginx_modules_dir() {
    local dir
    dir=$("$1" -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
    echo "${dir:-/usr/lib/nginx/modules}"
}

# has_lua_module NGINX_BIN: the Lua module and the NDK are both in that directory.
has_lua_module() {
    local dir
    dir=$(nginx_modules_dir "$1")
    [ -f "$dir/ngx_http_lua_module.so" ] && [ -f "$dir/ndk_http_module.so" ]
}

# install_lua_module: installs Debian's and Ubuntu's package with apt-get (as root, or with
# passwordless sudo); fails quietly where that is not possible, for lua_modules_dir to explain.
install_lua_module() {
    local sudo=()
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$(id -u)" != 0 ]; then
        sudo -n true 2>/dev/null || return 1
        sudo=(sudo -n) # not as_root: its refusal ends the script, and lua_modules_dir explains better
    fi
    log "${HOST_NAME:-nginx host}: installing nginx's Lua module for switchMode no-reload" \
        "(apt-get install libnginx-mod-http-lua)"
    local install=(${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends libnginx-mod-http-lua)
    "${install[@]}" >/dev/null 2>&1 && return 0
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq >/dev/null 2>&1 && "${install[@]}" >/dev/null 2>&1
}

# lua_modules_dir NGINX_BIN: prints the modules directory when it holds the module; otherwise
# fails naming the package and the fallback.
lua_modules_dir() {
    local dir
    dir=$(nginx_modules_dir "$1")
    has_lua_module "$1" ||
        fail "switchMode no-reload needs nginx's Lua module, and $dir/ngx_http_lua_module.so" \
            "(or ndk_http_module.so) is missing on ${HOST_NAME:-the nginx host}. Install it" \
            "(Debian/Ubuntu: apt-get install libnginx-mod-http-lua), or use reloads:" \
            "pulumi config set switchMode reload"
    echo "$dir"
}
