# shellcheck shell=bash
# Runs on every host of the ssh target before anything changes on any of them: the SSH login
# works (the connection itself), the variables arrive (AcceptEnv), and the host has what its
# role needs (on the nginx host, the Lua module when switchMode is no-reload). Fails naming the
# host and the fix. Where the login is root, what the role runs runs as RUN_AS (the apps as
# bluegreen-app, nginx's workers as bluegreen-nginx): that system user is made here if missing.
need HOST_NAME ROLE REMOTE_DIR SWITCH_MODE
# optional: NGINX_BIN RUN_AS
# A new cloud instance may still be installing packages (cloud-init): wait for it to finish.
if command -v cloud-init >/dev/null 2>&1 && [ -d /var/lib/cloud/instance ]; then
    log "$HOST_NAME: waiting for cloud-init to finish"
    timeout 900 cloud-init status --wait >/dev/null ||
        fail "$HOST_NAME: cloud-init failed or took over 15 minutes (see /var/log/cloud-init-output.log on the host)"
fi
missing=()
# timeout and flock (coreutils, util-linux) run every later script: a deadline, one at a time.
for tool in curl awk sed timeout flock; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
case $ROLE in
    nginx) command -v "${NGINX_BIN:-nginx}" >/dev/null 2>&1 || missing+=(nginx) ;;
    *)
        command -v tar >/dev/null 2>&1 || missing+=(tar) # releases may come as tarballs
        # The app becomes its own user with setpriv (util-linux), keeping its pid.
        if dedicated "${RUN_AS:-}"; then command -v setpriv >/dev/null 2>&1 || missing+=(setpriv); fi
        command -v node >/dev/null 2>&1 ||
            log "$HOST_NAME: note: node is not on PATH (fine if the app's start command does not need it)"
        ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
    packages=()
    for tool in "${missing[@]}"; do
        case $tool in
            timeout) packages+=(coreutils) ;;
            flock | setpriv) packages+=(util-linux) ;;
            *) packages+=("$tool") ;;
        esac
    done
    fail "$HOST_NAME ($(hostname)) lacks ${missing[*]}. Install it (Debian/Ubuntu: apt-get install ${packages[*]})"
fi
# The no-reload switch needs nginx's Lua module: installed here where apt-get can, otherwise
# the check fails naming the package and the fallback, before any deploy.
if [ "$ROLE" = nginx ] && [ "$SWITCH_MODE" = no-reload ]; then
    has_lua_module "${NGINX_BIN:-nginx}" || install_lua_module || true
    lua_modules_dir "${NGINX_BIN:-nginx}" >/dev/null
fi
# Made private whatever the login's umask (002 with a per-user group): the check below asks it.
# The deploy and the switch open it as far as RUN_AS needs (stack_dir).
if ! { (umask 077 && mkdir -p "$REMOTE_DIR") 2>/dev/null && [ -w "$REMOTE_DIR" ]; }; then
    fail "$HOST_NAME: $REMOTE_DIR cannot be created or written by $(id -un). Create it for that user:" \
        "sudo install -d -o $(id -un) $REMOTE_DIR"
fi
# remoteDir must be this user's alone (as stateDir locally, components/privateDir.ts): in a
# directory others can write, a release, token or symlink planted first would be trusted.
private_dir_problem() {
    local dir=$1 owner mode
    read -r owner mode < <(stat -L -c '%u %a' "$dir")
    if [ "$owner" != "$(id -u)" ]; then echo "$dir belongs to user $owner, not to $(id -un)"; return; fi
    if (( 8#$mode & 8#022 )); then echo "$dir is writable by others (mode $mode)"; return; fi
    while [ "$dir" != / ]; do
        dir=$(dirname "$dir")
        read -r owner mode < <(stat -L -c '%u %a' "$dir")
        if [ "$owner" != "$(id -u)" ] && [ "$owner" != 0 ]; then
            echo "$dir belongs to user $owner, who could replace what is under it"
            return
        fi
        if (( 8#$mode & 8#022 )) && ! (( 8#$mode & 8#1000 )); then
            echo "$dir is writable by others (mode $mode), who could replace what is under it"
            return
        fi
    done
}
problem=$(private_dir_problem "$REMOTE_DIR")
if [ -n "$problem" ]; then
    fail "$HOST_NAME: remoteDir $REMOTE_DIR is not private: $problem. Fix: a directory only $(id -un) can" \
        "write (sudo install -d -m 755 -o $(id -un) $REMOTE_DIR), or chmod go-w the one named"
fi
run_as=""
if dedicated "${RUN_AS:-}"; then
    system_user "$RUN_AS"
    # It reads what the scripts put under remoteDir: every directory above must let it pass.
    blocked=$(unreachable_by "$RUN_AS" "$(dirname "$REMOTE_DIR")")
    [ -z "$blocked" ] || fail "$HOST_NAME: $RUN_AS (who runs the $([ "$ROLE" = nginx ] && echo "nginx workers" ||
        echo app) here: the login is root) cannot enter $blocked, above remoteDir $REMOTE_DIR. Fix: chmod o+x" \
        "$blocked (others may then pass through it, not list it), or choose a remoteDir it can reach"
    run_as=", runs it as $RUN_AS"
fi
log "$HOST_NAME ($ROLE): reachable as $(id -un)@$(hostname), tools present, $REMOTE_DIR writable$run_as"
