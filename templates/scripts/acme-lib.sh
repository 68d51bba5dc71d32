# shellcheck shell=bash
# Certificates from an ACME CA, for nginx-switch.sh and acme/renew (acme-renew.sh, which a timer
# or an operator runs). lego, Debian's kept ACME client, speaks the protocol; nginx answers the
# CA's HTTP-01 challenge from the files lego writes. A new certificate is tested by nginx -t, put
# in place by a reload and checked served; the one in place is never removed first, so a CA that
# cannot be reached leaves it serving. Reloads and checks: switch-lib.sh.
# optional: ACME_DIRECTORY_URL ACME_EMAIL ACME_RENEW_DAYS ACME_TIMEOUT_SECONDS HOST_NAMES
# optional: ACME_CA_CERTIFICATE LEGO_BIN

# shellcheck disable=SC2154 # conf_dir: set by switch-lib.sh, in front of this file at run time
tls_dir="$conf_dir/tls"
tls_certificate="$tls_dir/certificate.pem"
tls_key="$tls_dir/key.pem"
acme_dir="$NGINX_PREFIX/acme"               # lego's account and certificates, acme/renew: this login's only
acme_webroot="$NGINX_PREFIX/acme-challenge" # what nginx serves the CA (nginx.conf.hbs)
acme_problem=""                             # why the last step failed, for the caller's message
# "SERIAL DIRECTORY_URL" of the certificate in place, and of the last one the CA issued (lego's).
acme_installed="$acme_dir/installed"
acme_issued="$acme_dir/issued"

acme_enabled() { [ -n "${ACME_DIRECTORY_URL:-}" ]; }
primary_name() { echo "${HOST_NAMES%% *}"; }

certificate_serial() { openssl x509 -noout -serial -in "$1" 2>/dev/null | sed 's/^serial=//'; }
certificate_end() { openssl x509 -noout -enddate -in "$1" 2>/dev/null | sed 's/^notAfter=//'; }
# certificate_record FILE: "SERIAL DIRECTORY_URL", as acme/installed and acme/issued hold it.
certificate_record() { printf '%s %s\n' "$(certificate_serial "$1")" "$ACME_DIRECTORY_URL"; }

# uncovered_name FILE: the first name of HOST_NAMES the certificate does not cover; fails if none.
uncovered_name() {
    local name
    for name in $HOST_NAMES; do
        if ! openssl x509 -noout -in "$1" -checkhost "$name" 2>/dev/null | grep -q ' does match '; then
            echo "$name"
            return 0
        fi
    done
    return 1
}

# acme_lock: one certificate change at a time on this host (a switch and the timer's renewal).
acme_lock() {
    (umask 077 && mkdir -p "$acme_dir")
    exec 9>"$acme_dir/lock"
    flock -w "$ACME_TIMEOUT_SECONDS" 9 || fail "another certificate renewal holds $acme_dir/lock"
}

# certificate_due: prints why the certificate in place needs the CA; fails when it does not.
certificate_due() {
    local name
    if [ ! -s "$tls_certificate" ]; then
        echo "there is no certificate yet"
    elif [ "$(certificate_record "$tls_certificate")" != "$(cat "$acme_installed" 2>/dev/null)" ]; then
        echo "the certificate in place did not come from $ACME_DIRECTORY_URL"
    elif ! openssl x509 -noout -in "$tls_certificate" -checkend $((ACME_RENEW_DAYS * 86400)) >/dev/null; then
        echo "it expires $(certificate_end "$tls_certificate"), within acmeRenewDays ($ACME_RENEW_DAYS)"
    elif name=$(uncovered_name "$tls_certificate"); then
        echo "it does not cover $name"
    else
        return 1
    fi
}

# prepare_webroot: where lego writes the challenge. nginx's workers read it: where they run as
# NGINX_WORKER_USER, through its group (setgid, so lego's files get that group too).
prepare_webroot() {
    mkdir -p "$acme_webroot/.well-known/acme-challenge"
    if dedicated "${NGINX_WORKER_USER:-}"; then
        chgrp -R "$NGINX_WORKER_USER" "$acme_webroot"
        find "$acme_webroot" -type d -exec chmod 2750 {} +
    fi
}

# challenge_answered: nginx serves the webroot for the primary name on the public listener, as
# the CA will ask for it. Prints what answered instead when it does not.
challenge_answered() {
    local token status
    token=bluegreen-check-$(random_hex 8)
    prepare_webroot
    printf '%s' "$token" >"$acme_webroot/.well-known/acme-challenge/$token"
    status=$(fetch "$VERIFY_URL/.well-known/acme-challenge/$token" "$body" --header "Host: $(primary_name)")
    rm -f "$acme_webroot/.well-known/acme-challenge/$token"
    [ "$status" = 200 ] && [ "$(cat "$body")" = "$token" ] && return 0
    echo "$status $(one_line "$body")"
    return 1
}

# run_lego: a new certificate for HOST_NAMES from the CA, its answers bounded in time.
run_lego() {
    local name
    local -a args=(--server "$ACME_DIRECTORY_URL" --email "$ACME_EMAIL" --accept-tos --path "$acme_dir/lego"
        --http --http.webroot "$acme_webroot")
    for name in $HOST_NAMES; do args+=(--domains "$name"); done
    local -a trust=()
    if [ -n "${ACME_CA_CERTIFICATE:-}" ]; then
        printf '%s\n' "$ACME_CA_CERTIFICATE" >"$acme_dir/ca.pem"
        trust=("LEGO_CA_CERTIFICATES=$acme_dir/ca.pem")
    fi
    env "${trust[@]}" timeout "$ACME_TIMEOUT_SECONDS" "${LEGO_BIN:-lego}" "${args[@]}" run
}

# issued_unused: lego holds a certificate this CA issued that is not in place and not due (an
# earlier attempt to serve it failed): it serves without asking the CA for another.
issued_unused() {
    local new
    new="$acme_dir/lego/certificates/$(primary_name)"
    [ -s "$new.crt" ] && [ -s "$new.key" ] || return 1
    [ "$(certificate_record "$new.crt")" = "$(cat "$acme_issued" 2>/dev/null)" ] || return 1
    [ "$(certificate_serial "$new.crt")" != "$(certificate_serial "$tls_certificate")" ] || return 1
    openssl x509 -noout -in "$new.crt" -checkend $((ACME_RENEW_DAYS * 86400)) >/dev/null || return 1
    ! uncovered_name "$new.crt" >/dev/null
}

# obtain_certificate WHY: asks the CA for a certificate for HOST_NAMES, checks what it gave.
# Nothing in use changes here; on failure acme_problem says why.
obtain_certificate() {
    local output status answered name new
    new="$acme_dir/lego/certificates/$(primary_name)"
    if issued_unused; then
        log "Certificate for $HOST_NAMES: $1; the CA issued one earlier that was not put in place" \
            "(serial $(certificate_serial "$new.crt")): using it, not asking again (the CA limits duplicates)"
        return 0
    fi
    if ! command -v "${LEGO_BIN:-lego}" >/dev/null 2>&1; then
        acme_problem="lego (the ACME client) is not installed on the nginx host. Install it: apt-get install lego"
        return 1
    fi
    if ! answered=$(challenge_answered); then
        acme_problem="nginx does not answer the ACME challenge for $(primary_name) at $VERIFY_URL (it answered"
        acme_problem+=" $answered), so the CA could not check the name"
        return 1
    fi
    log "Certificate for $HOST_NAMES: $1; asking $ACME_DIRECTORY_URL (lego)"
    output=$(run_lego 2>&1) && status=0 || status=$?
    if [ "$status" != 0 ] && grep -q 'acme:error:accountDoesNotExist' <<<"$output"; then
        # The CA forgot this host's account (deactivated, or a test CA restarted): a new one, once;
        # the old one is kept aside.
        log "The CA does not know this host's ACME account any more: registering a new one"
        rm -rf "$acme_dir/lego/accounts.forgotten"
        mv "$acme_dir/lego/accounts" "$acme_dir/lego/accounts.forgotten"
        output=$(run_lego 2>&1) && status=0 || status=$?
    fi
    if [ "$status" = 124 ]; then
        acme_problem="the ACME CA $ACME_DIRECTORY_URL did not finish within ${ACME_TIMEOUT_SECONDS}s"
        return 1
    elif [ "$status" != 0 ]; then
        acme_problem="the ACME CA $ACME_DIRECTORY_URL gave no certificate for $HOST_NAMES (lego:"
        acme_problem+=" $(printf '%s\n' "$output" | grep -v '^[[:space:]]*$' | tail -n 2 | tr '\n' ' '| cut -c1-600))"
        return 1
    fi
    certificate_record "$new.crt" >"$acme_issued"
    if name=$(uncovered_name "$new.crt"); then
        acme_problem="the certificate lego wrote ($new.crt) does not cover $name"
        return 1
    fi
    if [ "$(openssl x509 -noout -pubkey -in "$new.crt")" != "$(openssl pkey -pubout -in "$new.key" 2>/dev/null)" ]; then
        acme_problem="the certificate lego wrote ($new.crt) does not match its key"
        return 1
    fi
}

# place_certificate: lego's certificate and key into conf/tls, where the config reads them; the
# pair in use is kept beside them (.previous) until the new one is served.
place_certificate() {
    local new
    new="$acme_dir/lego/certificates/$(primary_name)"
    (
        umask 077
        mkdir -p "$tls_dir"
        if [ -s "$tls_certificate" ]; then
            cp -p "$tls_certificate" "$tls_certificate.previous"
            cp -p "$tls_key" "$tls_key.previous"
            cp -p "$acme_installed" "$acme_installed.previous" 2>/dev/null || rm -f "$acme_installed.previous"
        fi
        cp "$new.crt" "$tls_certificate.new"
        cp "$new.key" "$tls_key.new"
    )
    mv -f "$tls_key.new" "$tls_key"
    mv -f "$tls_certificate.new" "$tls_certificate"
    certificate_record "$tls_certificate" >"$acme_installed"
}

put_back_certificate() {
    [ -s "$tls_certificate.previous" ] || return 0
    mv -f "$tls_key.previous" "$tls_key"
    mv -f "$tls_certificate.previous" "$tls_certificate"
    mv -f "$acme_installed.previous" "$acme_installed" 2>/dev/null || rm -f "$acme_installed"
}

# served_serial: the serial of the certificate nginx shows for the primary name on the HTTPS port.
served_serial() {
    local listener=${VERIFY_URL#*://}
    listener=${listener%:*}
    timeout 5 openssl s_client -connect "$listener:$VERIFY_TLS_PORT" -servername "$(primary_name)" </dev/null \
        2>/dev/null | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}

# serve_certificate: nginx, serving this config already, reloads to read the certificate just
# placed, which must then be served (the serial over a handshake with the primary name) and
# verified like a switch (verify). Any failure puts the previous certificate back and reloads.
serve_certificate() {
    local test_output expected served config_id deadline problem=""
    if ! test_output=$(run_nginx -t -q -c "$conf" 2>&1); then
        put_back_certificate
        acme_problem="nginx -t refused the new certificate, so it was not used: $test_output"
        return 1
    fi
    [ "$(fetch "$INTERNAL_URL/bluegreen/config-id" "$body")" = 200 ] && config_id=$(cat "$body")
    expected=$(certificate_serial "$tls_certificate")
    log "Reloading nginx for the new certificate (serial $expected)"
    if ! start_or_reload || ! wait_config_id "${config_id:-$CONFIG_ID}"; then
        problem="nginx did not reload with it: $(config_problem "${config_id:-$CONFIG_ID}")"
    else
        deadline=$(($(now_ms) + VERIFY_TIMEOUT_SECONDS * 1000))
        while :; do
            served=$(served_serial || true)
            if [ "$served" = "$expected" ] || [ "$(now_ms)" -ge "$deadline" ]; then break; fi
            sleep_ms "$HEALTH_INTERVAL_MS"
        done
        if [ "$served" != "$expected" ]; then
            problem="nginx shows certificate '${served:-none}' for $(primary_name), not the new $expected"
        else
            problem=$(verify) || true
        fi
    fi
    if [ -n "$problem" ]; then
        put_back_certificate
        start_or_reload || true
        acme_problem="$problem. The previous certificate was put back"
        return 1
    fi
    log "Serving the new certificate for $HOST_NAMES (serial $expected," \
        "valid until $(certificate_end "$tls_certificate"))"
}
