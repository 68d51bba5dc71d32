# shellcheck shell=bash
# Stops one pool host's app through the contract's drain (SIGTERM), bounded; runs when the
# host's command resource is deleted (the pool shrank or the stack is destroyed). Only a
# process running from this host's release dirs is touched (supervisor.sh).
need HOST_NAME
stop_running
# shellcheck disable=SC2154 # supervisor: set by supervisor.sh, in front of this file at run time
[ "$supervisor" != systemd ] || systemd_remove_unit
log "Stopped $HOST_NAME"
