# Stops one pool host's app through the contract's drain (SIGTERM), bounded; runs when the
# host's command resource is deleted (the pool shrank or the stack is destroyed). Only a
# process running from this host's release dirs is touched (supervisor.sh).
stop_running
[ "$supervisor" != systemd ] || systemd_remove_unit
log "Stopped $HOST_NAME"
