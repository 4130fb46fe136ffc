#!/usr/bin/env bash
# riskgate's Kafka principals: their SCRAM users and their ACLs (docs/security.md).
#
#   deploy/local/kafka-acls.sh [acls]   grant each principal its ACLs
#   deploy/local/kafka-acls.sh remove   take the same ACLs away again (a test's own names)
#   deploy/local/kafka-acls.sh users    create the SCRAM users (passwords made once, kept in
#                                       $RISKGATE_LOCAL_HOME/secrets/kafka-NAME.password)
#
# The topic names, group id and transactional-id prefix are the ones riskgate reads
# (RISKGATE_TOPICS__PROPOSED ..., RISKGATE_GROUP_ID, RISKGATE_TRANSACTIONAL_ID_PREFIX), so a
# test can grant the set for its own unique names. Every command talks to the PLAINTEXT
# listener as its ANONYMOUS super user, with Kafka's own AclCommand and ConfigCommand, all in
# one JVM, and is idempotent (granting an ACL twice, or setting the same password, is a
# no-op for the broker).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

RISKGATE_LOCAL_HOME=${RISKGATE_LOCAL_HOME:-/var/tmp/riskgate-local}
KAFKA_HOME_DIR=$RISKGATE_LOCAL_HOME/kafka
KAFKA_PORT=${KAFKA_PORT:-9092}
BOOTSTRAP=127.0.0.1:$KAFKA_PORT
LIB=$KAFKA_HOME_DIR/lib
TOOLS=$KAFKA_HOME_DIR/tools
ADMIN_LOG=$KAFKA_HOME_DIR/admin.log
SCRAM_USERS=(worker operator stats replay redrive keda nobody admin)

# The names riskgate reads, with riskgate.settings' defaults.
P_PROPOSED=${RISKGATE_TOPICS__PROPOSED:-decisions.proposed}
P_BLACK_SWAN=${RISKGATE_TOPICS__BLACK_SWAN:-risk.black_swan_state}
P_SNAPSHOTS=${RISKGATE_TOPICS__SNAPSHOTS:-portfolio.snapshots}
P_MARKET=${RISKGATE_TOPICS__MARKET:-market.metrics}
P_CONFIG=${RISKGATE_TOPICS__CONFIG:-risk.config}
P_TARGETS=${RISKGATE_TOPICS__TARGETS:-risk.targets}
P_ACTIONS=${RISKGATE_TOPICS__ACTIONS:-risk.actions}
P_DLQ=${RISKGATE_TOPICS__DLQ:-decisions.proposed.dlq}
P_SHADOW=${RISKGATE_TOPICS__SHADOW:-risk.shadow}
P_OVERRIDE_STATS=${RISKGATE_TOPICS__OVERRIDE_STATS:-risk.override_stats}
P_STATS_STATE=${RISKGATE_STATS_STATE_TOPIC:-$P_OVERRIDE_STATS.state}
GROUP=${RISKGATE_GROUP_ID:-riskgate}
TXN_PREFIX=${RISKGATE_TRANSACTIONAL_ID_PREFIX:-riskgate}
# `riskgate replay --to-topic sandbox...` writes PREFIX.<topic>; only this prefix is granted.
SANDBOX_PREFIX=${KAFKA_ACL_SANDBOX_PREFIX:-sandbox.}
# `remove` never touches these, so a test's clean-up keeps the shared default grants.
DEFAULT_NAMES=" decisions.proposed risk.black_swan_state portfolio.snapshots market.metrics \
risk.config risk.targets risk.actions decisions.proposed.dlq risk.shadow risk.override_stats \
risk.override_stats.state riskgate riskgate.stats riskgate-replay- sandbox. "

log() { echo "kafka-acls: $*" >&2; }
die() { log "$*"; exit 1; }

# Runs every command of a batch file in one JVM: a command is a main class and its arguments,
# one per line, and an empty line ends it. The Kafka tools call System.exit only on failure,
# so the first failing command ends the batch with its status. Compiled once per source.
BATCH_SOURCE='import java.nio.file.*;
import java.util.*;

public class KafkaBatch {
    public static void main(String[] argv) throws Exception {
        List<String> cmd = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(argv[0]))) {
            if (line.isEmpty()) { run(cmd); cmd.clear(); } else { cmd.add(line); }
        }
        run(cmd);
    }

    static void run(List<String> cmd) throws Exception {
        if (cmd.isEmpty()) return;
        String[] args = cmd.subList(1, cmd.size()).toArray(new String[0]);
        Class.forName(cmd.get(0)).getMethod("main", String[].class).invoke(null, (Object) args);
    }
}'

compile_batch() {
    local stamp
    stamp=$(printf '%s' "$BATCH_SOURCE" | sha256sum | cut -d' ' -f1)
    [[ -f $TOOLS/KafkaBatch.class && $(cat "$TOOLS/.stamp" 2>/dev/null) == "$stamp" ]] && return 0
    command -v javac >/dev/null || die "javac not found: install a JDK 17"
    mkdir -p "$TOOLS"
    printf '%s\n' "$BATCH_SOURCE" >"$TOOLS/KafkaBatch.java"
    javac -d "$TOOLS" "$TOOLS/KafkaBatch.java"
    echo "$stamp" >"$TOOLS/.stamp"
}

# run_batch LABEL: runs $BATCH, retried, because right after start the broker may accept connections before
# its metadata (SCRAM users, ACLs) can be changed.
run_batch() {
    local label=$1 try
    [[ -d $LIB ]] || die "no Kafka jars in $LIB: run deploy/local/kafka.sh fetch"
    compile_batch
    printf '%s\n' "log4j.rootLogger=WARN, stderr" \
        "log4j.appender.stderr=org.apache.log4j.ConsoleAppender" \
        "log4j.appender.stderr.Target=System.err" \
        "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout" \
        "log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n" >"$TOOLS/log4j.properties"
    echo "=== $(date -Is) $label ===" >>"$ADMIN_LOG"
    for try in 1 2 3 4 5; do
        if java -Xms32m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
            "-Dlog4j.configuration=file:$TOOLS/log4j.properties" -cp "$TOOLS:$LIB/*" \
            KafkaBatch "$BATCH" >>"$ADMIN_LOG" 2>&1; then
            return 0
        fi
        log "$label: attempt $try failed (log: $ADMIN_LOG)"
        sleep 2
    done
    tail -n 20 "$ADMIN_LOG" >&2
    die "giving up (log: $ADMIN_LOG)"
}

BATCH=""
ACL_ACTION=(--add)
new_batch() {
    BATCH=$(umask 077 && mktemp "${TMPDIR:-/tmp}/riskgate-kafka-batch.XXXXXX")
    trap 'rm -f "$BATCH"' EXIT
}

# acl "PRINCIPALS" "OPS" literal|prefixed --topic T --group G ...: allow each principal each
# operation on each resource (AclCommand's cross product); `remove` skips the default names.
acl() {
    local principals=$1 ops=$2 pattern=$3 p op resources=()
    shift 3
    while (($# >= 2)); do
        if [[ ${ACL_ACTION[0]} == --remove && $DEFAULT_NAMES == *" $2 "* ]]; then
            shift 2
            continue
        fi
        resources+=("$1" "$2")
        shift 2
    done
    ((${#resources[@]})) || return 0
    {
        printf '%s\n' kafka.admin.AclCommand --bootstrap-server "$BOOTSTRAP" "${ACL_ACTION[@]}" \
            --resource-pattern-type "$pattern"
        for p in $principals; do printf '%s\n' --allow-principal "User:$p"; done
        for op in ${ops//,/ }; do printf '%s\n' --operation "$op"; done
        printf '%s\n' "${resources[@]}" ""
    } >>"$BATCH"
}

# The worker's rights, also given to the mTLS principal so that an mTLS worker can run.
worker_acls() {
    local who="worker riskgate-mtls"
    acl "$who" Read,Describe literal --topic "$P_PROPOSED" --topic "$P_BLACK_SWAN" \
        --topic "$P_SNAPSHOTS" --topic "$P_MARKET" --topic "$P_CONFIG" --group "$GROUP"
    # proposed too: the worker publishes its own de-risk commands there.
    acl "$who" Write,Describe literal --topic "$P_TARGETS" --topic "$P_ACTIONS" \
        --topic "$P_DLQ" --topic "$P_SHADOW" --topic "$P_PROPOSED"
    # Start-up reads the outputs' max.message.bytes (riskgate.kafka.limits).
    acl "$who" DescribeConfigs literal --topic "$P_TARGETS" --topic "$P_ACTIONS" --topic "$P_DLQ"
    # One transactional id per input partition: <prefix>-<topic>-<partition>.
    acl "$who" Write,Describe prefixed --transactional-id "$TXN_PREFIX"
    echo "User:worker: read $P_PROPOSED $P_BLACK_SWAN $P_SNAPSHOTS $P_MARKET" \
        "$P_CONFIG; write $P_TARGETS $P_ACTIONS $P_DLQ $P_SHADOW $P_PROPOSED; group $GROUP;" \
        "transactional ids $TXN_PREFIX*"
    echo "User:riskgate-mtls: the same as User:worker (the mTLS client certificate)"
}

other_acls() {
    # operator: the config writer rebuilds from and publishes to the config topic (idempotent,
    # not transactional); `config show` and re-arm also read the emergency state, and the
    # API's live view the market too.
    acl operator Read,Write,Describe literal --topic "$P_CONFIG"
    acl operator Read,Describe literal --topic "$P_BLACK_SWAN" --topic "$P_MARKET"
    echo "User:operator: read+write $P_CONFIG; read $P_BLACK_SWAN $P_MARKET"
    # stats: reads actions, writes the stats and its changelog (creating the changelog on first
    # start) and commits its offsets in its own transactions.
    acl stats Read,Describe literal --topic "$P_ACTIONS" --topic "$P_OVERRIDE_STATS" \
        --topic "$P_STATS_STATE" --group "$GROUP.stats"
    acl stats Write literal --topic "$P_OVERRIDE_STATS" --topic "$P_STATS_STATE"
    acl stats Create literal --topic "$P_STATS_STATE"
    acl stats Write,Describe literal --transactional-id "$TXN_PREFIX.stats"
    echo "User:stats: read $P_ACTIONS; read+write $P_OVERRIDE_STATS $P_STATS_STATE; group" \
        "$GROUP.stats; transactional id $TXN_PREFIX.stats"
    # replay: reads the outputs it verifies; writes only sandbox topics, which it may create.
    acl replay Read,Describe literal --topic "$P_TARGETS" --topic "$P_ACTIONS"
    acl replay Write,Describe,Create prefixed --topic "$SANDBOX_PREFIX"
    acl replay Write,Describe prefixed --transactional-id "$TXN_PREFIX-replay-"
    echo "User:replay: read $P_TARGETS $P_ACTIONS; write+create $SANDBOX_PREFIX*;" \
        "transactional ids $TXN_PREFIX-replay-*"
    # redrive: publishes dead letters to the decisions topic again (idempotent producer).
    acl redrive Write,Describe literal --topic "$P_PROPOSED"
    acl redrive Read,Describe literal --topic "$P_DLQ"
    echo "User:redrive: write $P_PROPOSED; read $P_DLQ"
    # keda: the lag of the worker's group = the topic's end offsets minus the committed ones.
    acl keda Describe literal --topic "$P_PROPOSED" --group "$GROUP"
    echo "User:keda: describe $P_PROPOSED and group $GROUP"
    echo "User:nobody: no ACLs"
    echo "User:admin: super user (super.users), as is ANONYMOUS on the PLAINTEXT listener"
}

cmd_acls() {
    local summary
    new_batch
    summary=$(worker_acls && other_acls)
    run_batch acls
    printf '%s\n' "$summary"
}

cmd_users() {
    local user file password mechanism
    new_batch
    for user in "${SCRAM_USERS[@]}"; do
        file=$(bash "$HERE/tls.sh" password "kafka-$user")
        password=$(<"$file")
        # One mechanism per request: KRaft refuses a request that alters one user twice.
        for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
            printf '%s\n' kafka.admin.ConfigCommand --bootstrap-server "$BOOTSTRAP" --alter \
                --add-config "$mechanism=[password=$password]" \
                --entity-type users --entity-name "$user" "" >>"$BATCH"
        done
    done
    run_batch users
    echo "SCRAM users ${SCRAM_USERS[*]} (passwords in $RISKGATE_LOCAL_HOME/secrets/kafka-NAME.password)"
}

case ${1:-acls} in
    acls) cmd_acls ;;
    remove)
        # --force: AclCommand would otherwise ask before each removal.
        ACL_ACTION=(--remove --force)
        cmd_acls >/dev/null
        echo "removed the grants on non-default names (proposed=$P_PROPOSED group=$GROUP" \
            "prefix=$TXN_PREFIX ...); the default names keep theirs"
        ;;
    users) cmd_users ;;
    *)
        echo "usage: $0 [acls|remove|users]" >&2
        exit 2
        ;;
esac
