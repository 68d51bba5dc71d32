# lua_modules_dir NGINX_BIN: prints the nginx modules directory when it holds the Lua module the
# no-reload switch needs (and the NDK it depends on); otherwise fails naming the package and the
# fallback. Shared by nginx-switch.sh and the ssh target's reach check of the nginx host.
lua_modules_dir() {
    local dir
    dir=$("$1" -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
    dir=${dir:-/usr/lib/nginx/modules}
    [ -f "$dir/ngx_http_lua_module.so" ] && [ -f "$dir/ndk_http_module.so" ] ||
        fail "switchMode no-reload needs nginx's Lua module, and $dir/ngx_http_lua_module.so (or ndk_http_module.so) is missing on ${HOST_NAME:-the nginx host}. Install it (Debian/Ubuntu: apt-get install libnginx-mod-http-lua), or use reloads: pulumi config set switchMode reload"
    echo "$dir"
}
