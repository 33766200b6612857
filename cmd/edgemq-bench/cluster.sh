#!/usr/bin/env bash
# cluster.sh runs the cross-node scenarios against a three-node edgemq
# cluster on this machine (configs/examples/cluster, embedded NATS,
# replicas 3, sync_interval always) and the same scenarios against one
# single node, in one sitting, and prints a Markdown table side by side.
#
#   cmd/edgemq-bench/cluster.sh [-o results.md | results.md]
#   QUICK=1 cmd/edgemq-bench/cluster.sh   # smoke run: short runs
#
# With the cluster up, streamprobe (cmd/edgemq-bench/streamprobe) then
# times publishes to the messages stream alone, through node 1's NATS
# server at 5,000/s with no MQTT in the path: the floor under the
# cluster's PUBACK latency in the same sitting (row "messages stream
# alone").
#
# Cluster runs put the publishers on node 1 (127.0.0.1:1891) and the
# subscribers on node 2 (127.0.0.1:1892): every message crosses nodes
# (-pub-addr, -sub-addr). The single node listens on 127.0.0.1:11890 with
# the default store (durability sync: QoS 1/2 acknowledged once on disk).
# Every node gets the bench's admission settings (no connection-rate
# limits; 16 connections opened at a time, auth.concurrency.per_ip) and
# warn-level logs. The brokers share the CPUs listed in
# BROKER_CPUS (default 0,1) and the load tool runs on BENCH_CPU (default
# 1): on a 2-core machine everything shares both cores.
#
# Environment: QUICK=1, DURATION (default 10s), BROKER_CPUS, BENCH_CPU,
# SYNC (the nodes' cluster.sync_interval, default always), ONLY (one
# scenario: fanout0, pairs0, pairs1, pairs1rate or stream), KEEP=1 (keep
# the work directory).
set -euo pipefail

out=""
case "${1:-}" in
-o) out="${2:?-o needs a file}" ;;
-h | --help)
	sed -n '2,26p' "$0"
	exit 0
	;;
"") ;;
*) out="$1" ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/edgemq-cluster.XXXXXX)
QUICK=${QUICK:-0}
DURATION=${DURATION:-10s}
WARMUP=2s
if [[ "$QUICK" == 1 ]]; then DURATION=2s WARMUP=500ms; fi
BROKER_CPUS=${BROKER_CPUS:-0,1}
BENCH_CPU=${BENCH_CPU:-1}
SYNC=${SYNC:-always}
ONLY=${ONLY:-}
pids=()

log() { echo "cluster: $*" >&2; }
. "$root/cmd/edgemq-bench/ready.sh" # wait_ready
stop_all() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
cleanup() {
	stop_all
	if [[ "${KEEP:-0}" == 1 ]]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log "building into $work"
(cd "$root" && go build -o "$work/edgemq" ./cmd/edgemq && go build -o "$work/edgemq-bench" ./cmd/edgemq-bench &&
	go build -o "$work/streamprobe" ./cmd/edgemq-bench/streamprobe)

bench_settings='log: {level: warn}
limits:
  max_unauthenticated: 0
  per_ip_connections: 0
  rate: {per_ip: 0, global: 0}'

start_single() {
	cat >"$work/single.yaml" <<EOF
$bench_settings
data_dir: ./data-single
ops: {address: 127.0.0.1:19190}
listeners:
  - {name: tcp, type: tcp, address: 127.0.0.1:11890}
EOF
	(cd "$work" && exec taskset -c "$BROKER_CPUS" ./edgemq -c single.yaml) &
	pids+=($!)
	wait_ready 127.0.0.1:19190
}

start_cluster() {
	for i in 1 2 3; do
		{
			sed "s/^  replicas: 3$/  replicas: 3\n  sync_interval: $SYNC/" "$root/configs/examples/cluster/node$i.yaml"
			echo "$bench_settings"
		} >"$work/node$i.yaml"
		(cd "$work" && exec taskset -c "$BROKER_CPUS" ./edgemq -c "node$i.yaml") &
		pids+=($!)
	done
	for i in 1 2 3; do wait_ready "127.0.0.1:919$i"; done
}

# run NAME ARGS...: one JSON result line into $work/NAME.json.
run() {
	local name=$1
	shift
	log "$name: edgemq-bench $*"
	taskset -c "$BENCH_CPU" "$work/edgemq-bench" -json -c 16 -duration "$DURATION" -warmup "$WARMUP" "$@" >"$work/$name.json"
}

all=(
	"fanout0|fanout -k 100 -qos 0"
	"pairs0|pairs -k 200 -qos 0"
	"pairs1|pairs -k 200 -qos 1"
	"pairs1rate|pairs -k 200 -qos 1 -rate 5000"
)
scenarios=()
for s in "${all[@]}"; do
	if [[ -z "$ONLY" || "${s%%|*}" == "$ONLY" ]]; then scenarios+=("$s"); fi
done

if [[ ${#scenarios[@]} -gt 0 ]]; then
	start_single
	for s in "${scenarios[@]}"; do
		run "single-${s%%|*}" -addr 127.0.0.1:11890 ${s#*|}
	done
	stop_all
fi

start_cluster
for s in "${scenarios[@]}"; do
	run "cluster-${s%%|*}" -pub-addr 127.0.0.1:1891 -sub-addr 127.0.0.1:1892 ${s#*|}
done
if [[ -z "$ONLY" || "$ONLY" == stream ]]; then
	log "stream: streamprobe -rate 5000 -duration $DURATION"
	taskset -c "$BENCH_CPU" "$work/streamprobe" -nats nats://127.0.0.1:4231 -rate 5000 -duration "$DURATION" >"$work/cluster-stream.json"
fi
stop_all

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/$1.json" "$2"; }

{
	echo "| scenario | metric | single node | cluster, across nodes | ratio |"
	echo "|---|---|---|---|---|"
	row() { # name label metric
		[[ -f "$work/single-$1.json" ]] || return 0
		local a b
		a=$(field "single-$1" "$3")
		b=$(field "cluster-$1" "$3")
		python3 -c 'import sys; a,b=float(sys.argv[3]),float(sys.argv[4]); print("| %s | %s | %.0f | %.0f | %s |" % (sys.argv[1], sys.argv[2], a, b, ("%.2f" % (b/a)) if a else "-"))' "$2" "$3" "$a" "$b"
	}
	row fanout0 "fan-out 1→100 QoS 0" throughput
	row fanout0 "fan-out 1→100 QoS 0" latency_p99_us
	row pairs0 "200 pairs QoS 0" throughput
	row pairs0 "200 pairs QoS 0" latency_p99_us
	row pairs1 "200 pairs QoS 1" throughput
	row pairs1 "200 pairs QoS 1" ack_p99_us
	row pairs1rate "200 pairs QoS 1 at 5,000/s" throughput
	row pairs1rate "200 pairs QoS 1 at 5,000/s" ack_p99_us
	row pairs1rate "200 pairs QoS 1 at 5,000/s" lost
	if [[ -f "$work/cluster-stream.json" ]]; then
		echo "| messages stream alone at 5,000/s (no MQTT) | stream_p50_us | - | $(printf %.0f "$(field cluster-stream stream_p50_us)") | - |"
		echo "| messages stream alone at 5,000/s (no MQTT) | stream_p99_us | - | $(printf %.0f "$(field cluster-stream stream_p99_us)") | - |"
	fi
} >"$work/table.md"
if [[ -n "$out" ]]; then cp "$work/table.md" "$out"; fi
cat "$work/table.md"
