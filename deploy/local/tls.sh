#!/usr/bin/env bash
# Certificates and generated passwords for the local broker and database.
#
#   deploy/local/tls.sh ensure            # the CA and every certificate below
#   deploy/local/tls.sh password NAME     # $SECRETS_DIR/NAME.password, made once; prints its path
#
# Everything lives under $RISKGATE_LOCAL_HOME (outside the clone), so a fresh clone keeps
# trusting the broker it started before. Nothing that exists and is still valid is made again:
# a certificate is remade only when missing, expiring within a week, not signed by the current
# CA or not matching its key. docs/security.md lists the files.
#
#   tls/ca.pem, ca.key              the local CA every served certificate chains to
#   tls/broker.pem, broker.key      the broker's (SAN IP:127.0.0.1, DNS:localhost)
#   tls/broker.p12                  the same as a PKCS#12 keystore for the JVM
#   tls/postgres.pem, postgres.key  PostgreSQL's (same SAN)
#   tls/client.pem, client.key      CN=riskgate-mtls, the mTLS client
#   tls/untrusted-ca.pem            a CA nothing we serve chains to, for negative tests
#   tls/untrusted-client.pem, .key  a client certificate signed by that untrusted CA
set -euo pipefail

RISKGATE_LOCAL_HOME=${RISKGATE_LOCAL_HOME:-/var/tmp/riskgate-local}
TLS_DIR=$RISKGATE_LOCAL_HOME/tls
SECRETS_DIR=$RISKGATE_LOCAL_HOME/secrets
CA_DAYS=3650
LEAF_DAYS=825
# Remade this long before it expires, so a running setup never meets an expired certificate.
RENEW_S=$((7 * 24 * 3600))
SAN="IP:127.0.0.1,DNS:localhost"

log() { echo "tls: $*" >&2; }
die() { log "$*"; exit 1; }

# One writer at a time: kafka.sh, postgres.sh and tests may all ask at once.
lock() {
    mkdir -p "$TLS_DIR" "$SECRETS_DIR"
    chmod 0755 "$TLS_DIR"
    chmod 0700 "$SECRETS_DIR"
    exec 9>"$TLS_DIR/.lock"
    flock -x 9
}

# A random password of letters and digits: safe inside Kafka's `[password=...]` config syntax,
# JAAS, properties files and SQL literals without quoting.
random_password() {
    local out=""
    while ((${#out} < 32)); do
        out+=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    done
    printf '%s' "${out:0:32}"
}

# The path of secret $1, generated on first use; the caller holds the lock.
ensure_password() {
    local file=$SECRETS_DIR/$1.password
    [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad secret name '$1'"
    if [[ ! -s $file ]]; then
        # Written aside and renamed: a reader never sees half a password.
        (umask 077 && random_password >"$file.tmp") && mv -f "$file.tmp" "$file"
        log "generated $file"
    fi
    chmod 0600 "$file"
    echo "$file"
}

cmd_password() {
    lock
    ensure_password "$1"
}

# True when $1.pem is usable: not expiring soon, matches $1.key and (unless it is a CA, $2
# empty) verifies against the CA $2.
usable() {
    local base=$1 ca=${2:-}
    [[ -s $base.pem && -s $base.key ]] || return 1
    openssl x509 -in "$base.pem" -noout -checkend "$RENEW_S" >/dev/null 2>&1 || return 1
    [[ $(openssl x509 -in "$base.pem" -noout -pubkey 2>/dev/null) == \
        "$(openssl pkey -in "$base.key" -pubout 2>/dev/null)" ]] || return 1
    if [[ -n $ca ]]; then
        openssl verify -CAfile "$ca.pem" "$base.pem" >/dev/null 2>&1 || return 1
    fi
}

new_key() { (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"); }

make_ca() {
    local base=$TLS_DIR/$1 cn=$2
    usable "$base" && return 0
    log "making CA $base.pem ($cn)"
    new_key "$base"
    openssl req -x509 -new -key "$base.key" -sha256 -days "$CA_DAYS" -subj "/O=riskgate local/CN=$cn" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$base.pem" 2>/dev/null
}

# make_leaf NAME CN CA USAGE [SAN]: a certificate for NAME signed by CA (serverAuth/clientAuth).
make_leaf() {
    local base=$TLS_DIR/$1 cn=$2 ca=$TLS_DIR/$3 usage=$4 san=${5:-} ext
    usable "$base" "$ca" && return 0
    log "making $base.pem (CN=$cn, signed by ${ca##*/})"
    new_key "$base"
    ext=$(mktemp)
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [[ -z $san ]] || echo "subjectAltName=$san"
    } >"$ext"
    openssl req -new -key "$base.key" -subj "/O=riskgate local/CN=$cn" 2>/dev/null |
        openssl x509 -req -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -sha256 \
            -days "$LEAF_DAYS" -extfile "$ext" -out "$base.pem" 2>/dev/null
    rm -f "$ext"
}

# The broker's keystore, remade whenever its certificate was, with a password of its own.
make_keystore() {
    local p12=$TLS_DIR/broker.p12 pwfile
    pwfile=$(ensure_password tls-broker-keystore)
    if [[ -s $p12 && $p12 -nt $TLS_DIR/broker.pem && $p12 -nt $pwfile ]]; then
        return 0
    fi
    log "making $p12"
    (umask 077 && openssl pkcs12 -export -name broker -in "$TLS_DIR/broker.pem" \
        -inkey "$TLS_DIR/broker.key" -certfile "$TLS_DIR/ca.pem" \
        -passout "file:$pwfile" -out "$p12.tmp") && mv -f "$p12.tmp" "$p12"
}

cmd_ensure() {
    command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
    lock
    # A new CA invalidates every leaf it signed; `usable` then sees they no longer verify.
    make_ca ca "riskgate local CA"
    make_ca untrusted-ca "riskgate untrusted CA"
    make_leaf broker localhost ca serverAuth "$SAN"
    make_leaf postgres localhost ca serverAuth "$SAN"
    make_leaf client riskgate-mtls ca clientAuth
    make_leaf untrusted-client riskgate-mtls untrusted-ca clientAuth
    make_keystore
    chmod 0644 "$TLS_DIR"/*.pem
    chmod 0600 "$TLS_DIR"/*.key "$TLS_DIR/broker.p12"
}

case ${1:-} in
    ensure) cmd_ensure ;;
    password)
        [[ -n ${2:-} ]] || die "usage: $0 password NAME"
        cmd_password "$2"
        ;;
    *)
        echo "usage: $0 ensure|password NAME" >&2
        exit 2
        ;;
esac
