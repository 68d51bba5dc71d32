# Stops one local host's app through the contract's drain (SIGTERM), bounded; runs when the
# host's command resource is deleted (the pool shrank or the stack is destroyed). Only a
# process running from this host's release dirs is touched (host-lib.sh).
need HOST_NAME HOST_DIR DRAIN_TIMEOUT_SECONDS

pid_file="$HOST_DIR/app.pid"
stop_running
log "Stopped $HOST_NAME"
