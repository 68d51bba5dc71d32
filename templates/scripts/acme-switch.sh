# shellcheck shell=bash disable=SC2154 # tls_*, acme_*, conf: acme-lib.sh's and switch-lib.sh's, in front at run time
# The switch's certificate steps (nginx-switch.sh), with an ACME CA: the first certificate, which
# needs nginx serving before it can have HTTPS, a renewal when due, and acme/renew for the host's
# timer. Certificates themselves: acme-lib.sh.
# optional: BOOTSTRAP_CONF BOOTSTRAP_CONFIG_ID ACME_RENEW_SCRIPT ACME_RENEW_VARIABLES
# optional: ACME_SERVICE_UNIT_TEXT ACME_TIMER_UNIT_TEXT

acme_bootstrap=false # the switch applies the config without HTTPS: there is no certificate yet
full_conf=""         # then the full config and its checks, for after the CA answered
full_config_id=""
full_tls_port=""
full_redirect=""

# choose_acme_config: without a certificate, nginx cannot start an HTTPS listener: the switch
# applies the config without it, and acme_after_switch obtains one through it, then the full one.
choose_acme_config() {
    [ ! -s "$tls_certificate" ] || return 0
    acme_bootstrap=true
    full_conf=$NGINX_CONF full_config_id=$CONFIG_ID full_tls_port=${VERIFY_TLS_PORT:-}
    full_redirect=${HTTPS_REDIRECT:-}
    NGINX_CONF=$BOOTSTRAP_CONF CONFIG_ID=$BOOTSTRAP_CONFIG_ID VERIFY_TLS_PORT="" HTTPS_REDIRECT=""
    log "No certificate yet: plain HTTP first (config $CONFIG_ID), HTTPS once $ACME_DIRECTORY_URL issued one"
}

# acme_after_switch: the switch is applied and verified; a certificate when due (the first, or a
# renewal), then, the first time, the full config with HTTPS, verified again. A CA that fails
# fails the update, saying what serves; what served before keeps serving.
acme_after_switch() {
    local why problem started
    started=$(now_ms)
    [ "$acme_bootstrap" = true ] || install_renewal
    if ! why=$(certificate_due); then
        log "Certificate for $HOST_NAMES: valid until $(certificate_end "$tls_certificate")" \
            "(renewed within $ACME_RENEW_DAYS days of that by a switch or $acme_dir/renew)"
        return 0
    fi
    if ! obtain_certificate "$why"; then
        if [ "$acme_bootstrap" = true ]; then
            fail "$LIVE_COLOR is live over plain HTTP only (config $CONFIG_ID, verified): no certificate yet," \
                "because $acme_problem. Fix that, then pulumi up (it asks the CA again)."
        fi
        fail "$LIVE_COLOR is live (verified), but the certificate was not renewed: $acme_problem. The current" \
            "one keeps serving (valid until $(certificate_end "$tls_certificate")). Fix that, then pulumi up" \
            "(or run $acme_dir/renew on the nginx host)."
    fi
    place_certificate
    if [ "$acme_bootstrap" = true ]; then
        NGINX_CONF=$full_conf CONFIG_ID=$full_config_id VERIFY_TLS_PORT=$full_tls_port HTTPS_REDIRECT=$full_redirect
        log "Certificate obtained (serial $(certificate_serial "$tls_certificate")): applying the config with HTTPS"
        # What a failure goes back to (restore reads it): the plain-HTTP config, serving this colour.
        # shellcheck disable=SC2034
        previous_live=$LIVE_COLOR
        apply_config
        if ! problem=$(verify); then
            restore "$LIVE_COLOR is live over plain HTTP only: the config with HTTPS failed its check: $problem"
        fi
        install_renewal
    elif ! serve_certificate; then
        fail "$LIVE_COLOR is live (verified), but the renewed certificate was not served: $acme_problem."
    fi
    log "timing: certificate $(($(now_ms) - started)) ms"
}

# remove_renewal: ACME turned off: the timer and acme/renew go (the certificate files stay, unused).
remove_renewal() {
    local unit
    for unit in "$renewal_timer" "$renewal_unit"; do
        if use_systemd && [ -f "/etc/systemd/system/$unit" ]; then
            unit_as_root remove-unit "$unit" || fail "removing $unit failed (above)"
        fi
    done
    rm -f "$acme_dir/renew" "$acme_dir/renew.env"
}

# install_renewal: acme/renew, the renewal the host's timer (or an operator) runs, with this
# switch's environment: the same steps, the same config, the same checks.
install_renewal() {
    local name
    (umask 077 && mkdir -p "$acme_dir")
    {
        # What acme-renew.sh takes, as its declaration lists it (components/scripts.ts).
        for name in $ACME_RENEW_VARIABLES; do
            [ -z "${!name:-}" ] || printf 'export BLUEGREEN_%s=%q\n' "$name" "${!name}"
        done
    } >"$acme_dir/renew.env.new"
    printf '#!/usr/bin/env bash\n# Written by each switch (nginx-switch.sh): %s\n%s\n%s\n' \
        "renews the certificate when due." ". \"$acme_dir/renew.env\"" "$ACME_RENEW_SCRIPT" >"$acme_dir/renew.new"
    chmod 700 "$acme_dir/renew.new"
    mv -f "$acme_dir/renew.env.new" "$acme_dir/renew.env"
    mv -f "$acme_dir/renew.new" "$acme_dir/renew"
    # Where systemd runs, its timer runs acme/renew; elsewhere an operator's cron does (docs/runbook.md).
    if use_systemd && [ -n "${ACME_TIMER_UNIT_TEXT:-}" ]; then
        install_unit "$renewal_unit" "$ACME_SERVICE_UNIT_TEXT"
        install_unit "$renewal_timer" "$ACME_TIMER_UNIT_TEXT"
        unit_as_root start "$renewal_timer" || fail "starting $renewal_timer failed (above)"
    fi
}
