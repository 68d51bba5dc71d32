# shellcheck shell=bash
# Deploys one release to one pool host and waits until /health says ready. A host already
# running this release is never restarted (a changed setting or script must not touch a process
# that may be serving). A release that never gets ready is stopped (at once: it served nothing) and
# the previous one started again and waited for as long as it took to warm up when it was deployed,
# so the host runs what Pulumi's state (unchanged by the failed update) says.
need HOST_NAME HOST_DIR BIND_ADDRESS PORT POOL_COLOR APP_VERSION RELEASE_ID ARTIFACT \
    START_COMMAND DRAIN_TOKEN_FILE READY_TIMEOUT_SECONDS DRAIN_TIMEOUT_SECONDS HEALTH_INTERVAL_MS BASE_DIR
# optional: HOST_HEADER

release_dir="$HOST_DIR/releases/$RELEASE_ID"

# prepare_host_dir: HOST_DIR and releases/, private. Where the deploy runs as root the app runs as
# the dedicated APP_USER (made if missing), which reads them through its group: it must be able
# to reach them, which every directory above decides; fails naming the one that stops it. An
# existing releases/ is only trusted (refuse_untrusted, next), never repaired.
prepare_host_dir() {
    local blocked
    if dedicated "${APP_USER:-}"; then
        [ "$(id -u)" = 0 ] || fail "$HOST_NAME: the app should run as $APP_USER, but this deploy runs as" \
            "$(id -un), not root, and cannot become it (this is a bug)"
        command -v setpriv >/dev/null 2>&1 ||
            fail "$HOST_NAME: setpriv is missing: the app runs as $APP_USER, never root. Install util-linux"
        system_user "$APP_USER"
    fi
    stack_dir "$BASE_DIR" "$HOST_DIR" "${APP_USER:-}"
    [ -e "$HOST_DIR/releases" ] || [ -L "$HOST_DIR/releases" ] || mkdir -m 750 "$HOST_DIR/releases"
    refuse_untrusted "$HOST_DIR/releases"
    chmod o-rwx "$HOST_DIR/releases"
    dedicated "${APP_USER:-}" || return 0
    chgrp "$APP_USER" "$HOST_DIR/releases"
    # A drain token an earlier version wrote as root's: the app reads it now (write-token.sh).
    if [ -f "$DRAIN_TOKEN_FILE" ] && [ ! -L "$DRAIN_TOKEN_FILE" ]; then chown "$APP_USER:" "$DRAIN_TOKEN_FILE"; fi
    blocked=$(unreachable_by "$APP_USER" "$HOST_DIR/releases")
    [ -z "$blocked" ] || fail "$HOST_NAME: the app runs as $APP_USER (the deploy runs as root, apps never" \
        "do), which cannot enter $blocked on the way to $HOST_DIR. Fix: chmod o+x $blocked (others may then" \
        "pass through it, not list it), or put the stack's directory (stateDir, remoteDir) where $APP_USER" \
        "can reach it"
}

# refuse_untrusted DIR: what this host runs sits in directories only the deploying user made and
# can write. A release id can be computed from outside: a directory planted under that name
# (through a directory others could write once) must never be run.
refuse_untrusted() {
    local dir=$1
    if [ -L "$dir" ] || [ -n "$(find "$dir" -maxdepth 0 \( ! -user "$(id -u)" -o -perm /022 \) -print)" ]; then
        fail "$HOST_NAME: $dir is a symlink, is not owned by $(id -un), or others can write it: this script" \
            "did not make it, so it is not run. Remove it (and check who could write $(dirname "$dir")), then" \
            "run pulumi up again."
    fi
}
prepare_host_dir
if [ -e "$release_dir" ] || [ -L "$release_dir" ]; then refuse_untrusted "$release_dir"; fi
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# fetch_health: the app's /health into $body, with the Host it serves where it checks one.
fetch_health() { fetch "http://$BIND_ADDRESS:$PORT/health" "$body" ${HOST_HEADER:+--header "Host: $HOST_HEADER"}; }

# exited_note PID: says that PID exited before it was ready, with the log's last lines.
# shellcheck disable=SC2154 # log_file: set by supervisor.sh, in front of this file at run time
exited_note() {
    echo "the process (pid ${1:-none}) exited before it was ready; last lines of $log_file:" \
        "$(tail -n 5 "$log_file" 2>/dev/null | tr '\n' ' ')"
}

# wait_ready PID VERSION [SECONDS]: polls /health for up to SECONDS (READY_TIMEOUT_SECONDS);
# prints why not on failure.
# shellcheck disable=SC2154 # instance_file: set by supervisor.sh, in front of this file at run time
wait_ready() {
    local pid=$1 version=$2 seconds=${3:-$READY_TIMEOUT_SECONDS} started deadline status=000
    started=$(now_ms)
    deadline=$((started + seconds * 1000))
    while :; do
        status=$(fetch_health)
        if ! alive "$pid"; then
            exited_note "$pid"
            return 1
        fi
        # Ready, and it is this process answering (an app that reports its pid or echoes its
        # instance id is checked).
        if [ "$status" = 200 ] && is_ready "$body" "$version" &&
            { ! grep -q '"pid"' "$body" || grep -Eq "\"pid\" *: *${pid}[,}]" "$body"; } &&
            { ! grep -q '"instance"' "$body" ||
                [ "$(echoed_instance "$body")" = "$(cat "$instance_file" 2>/dev/null)" ]; }; then
            echo "ready after $(( $(now_ms) - started )) ms"
            return 0
        fi
        if final_status "$status"; then
            echo "/health answered $status after $(( $(now_ms) - started )) ms, which waiting cannot change:" \
                "$(one_line "$body"). $(refused_hint)"
            return 1
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "not ready after ${seconds}s: last /health answered $status $(one_line "$body")"
            return 1
        fi
        sleep_ms "$HEALTH_INTERVAL_MS"
    done
}

# report_deployed: the result line Pool parses (deployResult.ts): the instance id the gate must
# see, or "" when the app does not echo one (the gate cannot tell it from another process then).
report_deployed() { printf 'bluegreen-deploy {"instance":"%s"}\n' "$(echoed_instance "$body")"; }

# new_instance: the id of the process about to start, private to this host's user.
new_instance() { (umask 077 && random_hex 16 >"$instance_file"); }

# How long each release took to become ready when it was deployed, in ms, a file per release id:
# restarting it after a failed deploy waits that long (twice, for a slower start), not only
# READY_TIMEOUT_SECONDS, which may have changed since and which a slow warm-up can outlast.
warm_up_dir="$HOST_DIR/warm-up"

# record_warm_up RELEASE_ID MS: private, written beside and renamed (never half-written). The
# deploy has succeeded by then: a record that cannot be written only shortens a later wait.
record_warm_up() {
    local file="$warm_up_dir/$1"
    if ! (umask 077 && mkdir -p "$warm_up_dir" && printf '%s\n' "$2" >"$file.new.$$" && mv -f "$file.new.$$" "$file")
    then
        log "$HOST_NAME: could not record the warm-up of $1 in $file; restarting it will wait" \
            "${READY_TIMEOUT_SECONDS}s"
    fi
}

# restart_wait RELEASE_ID: seconds to wait for RELEASE_ID started again: twice its recorded
# warm-up + 5 s, at least READY_TIMEOUT_SECONDS; at most 2 * READY_TIMEOUT_SECONDS + 5, which the
# script's deadline (components/pool.ts) allows for.
restart_wait() {
    local ms seconds=$READY_TIMEOUT_SECONDS cap=$((2 * READY_TIMEOUT_SECONDS + 5))
    ms=$(cat "$warm_up_dir/$1" 2>/dev/null || true)
    # Only digits reach the arithmetic below (bash would evaluate anything else as an expression).
    [[ $ms =~ ^[0-9]{1,9}$ ]] || { echo "$seconds"; return 0; }
    seconds=$(((2 * ms + 999) / 1000 + 5))
    [ "$seconds" -ge "$READY_TIMEOUT_SECONDS" ] || seconds=$READY_TIMEOUT_SECONDS
    [ "$seconds" -le "$cap" ] || seconds=$cap
    echo "$seconds"
}

# seconds_of MS: MS as seconds with one decimal, for messages.
seconds_of() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# Already running this release? Never restart it: wait for it to be ready, or fail.
if old_pid=$(owned_pid) && [ "$(readlink "/proc/$old_pid/cwd")" = "$release_dir" ]; then
    if outcome=$(wait_ready "$old_pid" "$APP_VERSION"); then
        log "$HOST_NAME already runs $APP_VERSION ($RELEASE_ID, pid $old_pid), $outcome; nothing to do"
        report_deployed
        exit 0
    fi
    fail "$HOST_NAME ($BIND_ADDRESS:$PORT) runs $APP_VERSION already (pid $old_pid) but $outcome." \
        "It was left running; check $log_file"
fi

log "Deploying $APP_VERSION ($RELEASE_ID) to $HOST_NAME at $BIND_ADDRESS:$PORT"

# refuse_special_files DIR: a release holds plain files, directories and links. Unpacked as root, a
# setuid file would run as root for anyone, and a device would open the host's hardware: refused
# (naming the entry) and removed before anything could use it. Nothing stays writable by others.
refuse_special_files() {
    local special
    special=$(find "$1" \( -type f -perm /6000 -o -type b -o -type c -o -type p -o -type s \) -print -quit) ||
        { rm -rf "$1"; fail "$HOST_NAME: could not read everything the artifact $ARTIFACT unpacked"; }
    if [ -n "$special" ]; then
        rm -rf "$1"
        fail "$HOST_NAME: the artifact $ARTIFACT holds ${special#"$1"/}, a setuid or setgid file, a device," \
            "a fifo or a socket; a release holds plain files and directories only. Remove it from the artifact."
    fi
    chmod -R go-w "$1"
}

# 1. Put the release in place: copy (or unpack) beside, then rename, so a release dir is never
# half-written. A tarball whose entries all sit under one top-level directory (npm pack's
# package/, a `tar czf app-1.4.2.tar.gz app-1.4.2/`) has that directory as its release root.
if [ ! -d "$release_dir" ]; then
    staging="$release_dir.partial.$$"
    rm -rf "$staging" "$staging.root"
    # Private until checked: nobody else may run what the artifact holds before then.
    mkdir -p "$(dirname "$staging")"
    mkdir -m 700 "$staging"
    if [ -d "$ARTIFACT" ]; then
        cp -a "$ARTIFACT/." "$staging/"
        refuse_special_files "$staging"
    elif [ -f "$ARTIFACT" ]; then
        tar -xf "$ARTIFACT" -C "$staging" --no-same-owner ||
            { rm -rf "$staging"; fail "$HOST_NAME: the artifact $ARTIFACT is not a tarball tar can unpack"; }
        refuse_special_files "$staging"
        shopt -s dotglob nullglob
        top=("$staging"/*)
        if [ ${#top[@]} -eq 1 ] && [ -d "${top[0]}" ] && [ ! -L "${top[0]}" ]; then
            mv "${top[0]}" "$staging.root" || fail "$HOST_NAME: could not move ${top[0]} out of $staging"
            rmdir "$staging" || fail "$HOST_NAME: could not remove $staging"
            mv "$staging.root" "$staging" || fail "$HOST_NAME: could not rename $staging.root to $staging"
        fi
        shopt -u dotglob nullglob
    else
        fail "$HOST_NAME: the artifact $ARTIFACT does not exist on this host"
    fi
    # The app's user reads its release through its group and can change nothing in it.
    if dedicated "${APP_USER:-}"; then
        chgrp -hR "$APP_USER" "$staging"
        chmod -R g+rX,o-rwx "$staging"
    fi
    chmod 750 "$staging"
    mv "$staging" "$release_dir"
fi

# 2. Remember what runs now (to go back to it), then drain it. From the drain on, the host has no
# ready release until one answers ready again: that gap is reported if the deploy fails.
previous_dir=""
previous_version=""
if old_pid=$(owned_pid); then
    previous_dir=$(readlink "/proc/$old_pid/cwd")
    if [ "$(fetch_health)" = 200 ]; then
        previous_version=$(sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' "$body")
    fi
fi
drain_began=$(now_ms)
stop_running
# Nothing else may hold the port: a foreign process answering /health would pass for the new one.
if [ "$(fetch_health)" != 000 ]; then
    fail "$HOST_NAME: $BIND_ADDRESS:$PORT is still answering after the host's own process stopped: another" \
        "process holds the port (not started by this host's pid file). Stop it, then run pulumi up again."
fi

# 3. Start the new release and wait until it is ready.
previous_instance=$(cat "$instance_file" 2>/dev/null || true)
new_instance
starting=$(now_ms)
new_pid=$(start_release "$release_dir" "$APP_VERSION")
if outcome=$(wait_ready "$new_pid" "$APP_VERSION"); then
    record_warm_up "$RELEASE_ID" $(($(now_ms) - starting))
    log "Deployed $APP_VERSION to $HOST_NAME (pid $new_pid), $outcome"
    report_deployed
    exit 0
fi

# 4. Not ready: put the previous release back, so the host runs what the state says. The update
# fails whatever happens (this release did not deploy); the message says what runs now.
problem="$HOST_NAME ($BIND_ADDRESS:$PORT) $outcome"
log "$problem"
stop_unready
if [ -n "$previous_dir" ] && [ -d "$previous_dir" ] && [ -n "$previous_version" ]; then
    previous_id=$(basename "$previous_dir")
    waiting=$(restart_wait "$previous_id")
    log "Restarting the previous release $previous_id on $HOST_NAME (waiting up to ${waiting}s)"
    # Under its own id: what Pulumi's state (unchanged by this failed update) records for the gate.
    (umask 077 && printf '%s' "$previous_instance" >"$instance_file")
    back_pid=$(start_release "$previous_dir" "$previous_version")
    if back=$(wait_ready "$back_pid" "$previous_version" "$waiting"); then
        fail "$problem. The previous release $previous_version runs again (pid $back_pid, $back);" \
            "$HOST_NAME had no ready release for $(seconds_of $(($(now_ms) - drain_began))) s."
    fi
    if alive "$back_pid"; then
        fail "$problem. The previous release $previous_version runs again (pid $back_pid) but is not ready yet" \
            "($back). It was left running to finish starting; the next pulumi up's health gate waits for it" \
            "before this pool can go live. Check $log_file"
    fi
    fail "$problem. The previous release $previous_version was started again, but $(exited_note "$back_pid");" \
        "$HOST_NAME runs no release now."
fi
fail "$problem. There was no earlier release on this host to go back to; $HOST_NAME runs no release now."
