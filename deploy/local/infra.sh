#!/usr/bin/env bash
# Local Kafka + PostgreSQL for riskgate, without Docker.
#
#   deploy/local/infra.sh up|down|status
#
# `up` installs what is missing (PostgreSQL from the distribution, the Kafka
# jars through Maven), starts both and returns only once riskgate could really
# use them (python -m riskgate.infra_check). Every step is idempotent, so `up`
# on running infrastructure is a quick readiness check. State lives in
# $RISKGATE_LOCAL_HOME (default /var/tmp/riskgate-local); see kafka.sh and
# postgres.sh for the other knobs, and docs/security.md for the secured listeners, the
# certificates (tls.sh) and the principals (kafka-acls.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
[[ -x $PYTHON ]] || PYTHON=python3

now_ms() { echo $(($(date +%s%N) / 1000000)); }

cmd_up() {
    local t0
    t0=$(now_ms)
    bash "$HERE/kafka.sh" fetch
    # Kafka's JVM boots in the background (start timeout 0) while PostgreSQL
    # is installed and started; `kafka.sh wait` then catches a broker that
    # died early, with its log, instead of a silent readiness time-out.
    KAFKA_START_TIMEOUT=0 bash "$HERE/kafka.sh" start
    bash "$HERE/postgres.sh" install
    bash "$HERE/postgres.sh" start
    bash "$HERE/kafka.sh" wait
    # The SCRAM users and ACLs need the running broker (kafka.sh; quick once made).
    bash "$HERE/kafka.sh" secure
    # PYTHONPATH: infra_check must run from a checkout that is not installed.
    PYTHONPATH="$REPO/services${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m riskgate.infra_check
    local ms=$(($(now_ms) - t0))
    printf 'infra: up in %d.%01d s\n' $((ms / 1000)) $((ms % 1000 / 100))
}

cmd_down() {
    # Both, even if the first one fails.
    local rc=0
    bash "$HERE/kafka.sh" stop || rc=1
    bash "$HERE/postgres.sh" stop || rc=1
    return $rc
}

# Exit 0 only when both run, so scripts can test `infra.sh status`.
cmd_status() {
    local rc=0
    bash "$HERE/kafka.sh" status || rc=3
    bash "$HERE/postgres.sh" status || rc=3
    return $rc
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 up|down|status" >&2
        exit 2
        ;;
esac
