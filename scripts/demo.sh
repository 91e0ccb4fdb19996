#!/usr/bin/env bash
# Runs titand's main job on the built-in default config: starts the demo HTTP target on
# 127.0.0.1:18081-18083, starts titand with no config file, drops the shipped example batch
# (2,500 tasks, 10,000 api_call items) into the spool, shows progress until every item is
# done, and says where the results are. Installs missing packages and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target titand titanctl titan-target
bin=build/release
state_dir=/var/lib/titand  # state_dir of the built-in defaults
spool=$state_dir/spool
api=http://127.0.0.1:8420
metrics=http://127.0.0.1:9420/metrics
batch=conf/examples/demo-batch.ndjson
logs=$(mktemp -d /tmp/titand-demo.XXXXXX)

if [ ! -w "$(dirname "$state_dir")" ]; then
  echo "demo: $state_dir is not writable; run the demo as root (the default config keeps state there)" >&2
  exit 1
fi

cleanup() {
  [ -n "${titand_pid:-}" ] && kill -TERM "$titand_pid" 2>/dev/null && wait "$titand_pid" || true
  [ -n "${target_pid:-}" ] && kill -TERM "$target_pid" 2>/dev/null && wait "$target_pid" || true
}
trap cleanup EXIT

"$bin/bench/titan-target" --listen 127.0.0.1:18081 --listen 127.0.0.1:18082 \
  --listen 127.0.0.1:18083 >"$logs/target.log" 2>&1 &
target_pid=$!
"$bin/daemon/titand" >"$logs/titand.log" 2>&1 &
titand_pid=$!

for _ in $(seq 1 300); do
  curl -fsS "$api/healthz" >/dev/null 2>&1 && break
  if ! kill -0 "$titand_pid" 2>/dev/null; then
    echo "demo: titand exited during start:" >&2
    cat "$logs/titand.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "titand is up (log: $logs/titand.log); dropping $batch into $spool/incoming/"

name=demo-batch-$(date +%s).ndjson
cp "$batch" "$spool/incoming/.$name.tmp"
mv "$spool/incoming/.$name.tmp" "$spool/incoming/$name"

receipt=$spool/done/$name.receipt.json
for _ in $(seq 1 600); do
  [ -f "$receipt" ] && break
  sleep 0.1
done
if [ ! -f "$receipt" ]; then
  echo "demo: no receipt after 60 s; see $logs/titand.log and $spool/failed/" >&2
  exit 1
fi
duplicate=$(grep -o '"duplicate":[a-z]*' "$receipt" | cut -d: -f2)
echo "batch committed (receipt: $receipt, already seen before: $duplicate)"

# Progress over all items in the state directory, from the metrics endpoint.
metric() { curl -fsS "$metrics" | awk -v name="titand_items{state=\"$1\"}" '$1 == name {print int($2)}'; }
start=$(date +%s)
while true; do
  queued=$(metric queued); retry=$(metric retry_scheduled); flight=$(metric in_flight)
  ok=$(metric succeeded); failed=$(metric failed)
  total=$((queued + retry + flight + ok + failed))
  done_items=$((ok + failed))
  percent=$(( total > 0 ? done_items * 100 / total : 100 ))
  bar=$(printf '%*s' $((percent / 4)) '' | tr ' ' '#')
  printf '\r[%-25s] %3d%%  succeeded %d  failed %d  in flight %d  waiting %d  ' \
    "$bar" "$percent" "$ok" "$failed" "$flight" $((queued + retry))
  [ "$done_items" -ge "$total" ] && break
  if [ $(( $(date +%s) - start )) -gt 600 ]; then
    echo; echo "demo: not finished after 10 minutes; see $logs/titand.log" >&2
    exit 1
  fi
  sleep 1
done
echo
first_execution=$(grep -m1 -o '"execution_id":"[^"]*"' "$receipt" | cut -d'"' -f4)
"$bin/daemon/titanctl" status "$first_execution"
"$bin/daemon/titanctl" export "$first_execution" --format csv -o "$logs/first-execution.csv"
cat <<EOM

Done in $(( $(date +%s) - start )) s. Where the results are:
  receipt (line -> task id, execution id): $receipt
  one execution as CSV:                    $logs/first-execution.csv
  any execution:  $bin/daemon/titanctl export EXECUTION_ID --format ndjson|csv
  state (RocksDB):                         $state_dir/db
  titand log:                              $logs/titand.log
EOM
