# shellcheck shell=bash
# How a pool host keeps its app running, shared by deploy-host.sh and stop-host.sh.
# SUPERVISOR chooses: systemd (a unit, systemd.sh), process (a detached process with a pid
# file, process.sh) or auto (systemd where it runs as the init system, process elsewhere).
# Both provide: owned_pid (the running app's pid, if it is ours), start_release DIR VERSION
# (prints the new pid), stop_running (drain through SIGTERM, bounded) and stop_unready (a
# release that never became ready: SIGTERM, then SIGKILL after unready_grace seconds).
need HOST_NAME HOST_DIR DRAIN_TIMEOUT_SECONDS PORT BIND_ADDRESS POOL_COLOR DRAIN_TOKEN_FILE
# optional: SUPERVISOR APP_USER
# shellcheck disable=SC2034 # read by process.sh and deploy-host.sh, which come after this file
log_file="$HOST_DIR/app.log"
# The id of the process the supervisor starts next (INSTANCE_ID): an app whose /health echoes it
# can be told from any other process that takes its port (gate-lib.sh).
instance_file="$HOST_DIR/instance-id"

case ${SUPERVISOR:-process} in
    systemd)
        systemd_runs || fail "$HOST_NAME: supervisor is systemd, but systemd is not the init system on this host." \
            "Fix: pulumi config set supervisor auto (the process supervisor is then used where systemd does not run)"
        supervisor=systemd ;;
    auto) if systemd_runs; then supervisor=systemd; else supervisor=process; fi ;;
    process) supervisor=process ;;
    *) fail "SUPERVISOR is '$SUPERVISOR', expected systemd, process or auto (this is a bug)" ;;
esac

owned_pid() { "${supervisor}_owned_pid"; }
start_release() { "${supervisor}_start_release" "$@"; }
stop_running() { "${supervisor}_stop_running"; }
stop_unready() { "${supervisor}_stop_unready"; }

# unready_grace: how long a release that never passed readiness gets to exit on SIGTERM. It
# served nothing (only the idle pool is deployed, and nginx sends it nothing before the gate), so
# there is nothing to drain, and each second of a full drain is a second its host serves nothing.
unready_grace() { echo $((DRAIN_TIMEOUT_SECONDS < 5 ? DRAIN_TIMEOUT_SECONDS : 5)); }

# alive PID: running, not a zombie waiting to be reaped.
alive() {
    [ -n "$1" ] && [ "$1" != 0 ] && kill -0 "$1" 2>/dev/null &&
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

wait_gone() { # pid seconds
    local deadline=$(( $(now_ms) + $2 * 1000 ))
    while alive "$1"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep_ms 50
    done
}

# running_from_release PID: the process runs from one of this host's release dirs.
running_from_release() {
    case "$(readlink "/proc/$1/cwd" 2>/dev/null)" in
        "$HOST_DIR"/releases/*) return 0 ;;
        *) return 1 ;;
    esac
}

# app_variables VERSION: what the app gets (the contract's variables), one NAME=value a line.
# Never this command's own environment: scripts, Pulumi's or CI's credentials stay out.
app_variables() {
    printf '%s\n' "PORT=$PORT" "BIND_ADDRESS=$BIND_ADDRESS" "APP_VERSION=$1" "POOL_COLOR=$POOL_COLOR" \
        "DRAIN_TOKEN_FILE=$DRAIN_TOKEN_FILE" "DRAIN_TIMEOUT_MS=$((DRAIN_TIMEOUT_SECONDS * 1000))" \
        "INSTANCE_ID=$(cat "$instance_file" 2>/dev/null)"
}

# exec_app VERSION COMMAND...: replaces the current (sub)shell with COMMAND, in a clean
# environment plus app_variables, so that a background job's $! is the app's own pid. Where the
# deploy runs as root, COMMAND runs as the dedicated APP_USER (as_user's setpriv: same pid).
exec_app() {
    local version=$1 vars home=${HOME:-/}
    local -a drop=()
    shift
    mapfile -t vars < <(app_variables "$version")
    if dedicated "${APP_USER:-}"; then
        drop=(setpriv --reuid="$APP_USER" --regid="$APP_USER" --init-groups --no-new-privs)
        home=/ # it has none; root's is not its to read
    fi
    exec env -i PATH="$PATH" HOME="$home" LANG="${LANG:-C.UTF-8}" "${vars[@]}" ${drop[@]+"${drop[@]}"} "$@"
}

# app_file FILE: a file of HOST_DIR that the app's own shell opens under systemd (app.env, and
# app.log, appended to): its user's group may read and, for the log, write it; others nothing.
app_file() {
    [ -e "$1" ] || : >>"$1"
    if dedicated "${APP_USER:-}"; then
        chgrp "$APP_USER" "$1"
        chmod "$([ "$1" = "$log_file" ] && echo 660 || echo 640)" "$1"
    else
        chmod o-rwx "$1"
    fi
}
