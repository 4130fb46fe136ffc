#!/usr/bin/env bash
# make demo: local infrastructure (if needed), topics, one worker, a sample, a table; then stop
# the worker again (the infrastructure stays up for the next run; `make infra-down` stops it).
# `make demo` creates and installs the virtualenv first; this script only uses it.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PY=$VENV/bin/python
RG=("$VENV/bin/riskgate")
if [[ ! -x ${RG[0]} ]]; then
  echo "demo: no riskgate in $VENV; run \`make demo\` (it creates and installs $VENV)" >&2
  exit 1
fi

PYTHON=$PY bash deploy/local/infra.sh up
"${RG[@]}" topics create >/dev/null
log=$(mktemp /tmp/riskgate-demo-worker.XXXXXX.log)
RISKGATE_HTTP_PORT=${RISKGATE_HTTP_PORT:-18080} "${RG[@]}" worker 2>"$log" &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null || true' EXIT
ready=0
for _ in $(seq 1 120); do
  if "$PY" -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:${RISKGATE_HTTP_PORT:-18080}/ready" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 $worker 2>/dev/null || { echo "worker exited; its log:"; cat "$log"; exit 1; }
  sleep 0.5
done
if [[ $ready == 0 ]]; then
  echo "demo: the worker was not ready within 60 s (a halted partition? see \`riskgate partitions list --halted\`); its log: $log" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
"${RG[@]}" demo
echo "(worker log: $log)"
