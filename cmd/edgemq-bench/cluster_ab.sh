#!/usr/bin/env bash
# cluster_ab.sh compares the cluster's QoS 1 PUBACK latency at 5,000 msg/s
# (200 pairs, publishers on node 1, subscribers on node 2) of two builds
# in one sitting: this tree and a base revision, built side by side and
# run alternately (ABBA...) on fresh three-node example clusters
# (configs/examples/cluster: embedded NATS, replicas 3). After each MQTT
# run, streamprobe times the messages stream alone at 5,000/s on the same
# cluster. Each run prints one line: the load average at its start and
# end, the PUBACK p50/p99, and the three nodes' CPU time (user+system)
# over the MQTT run (2s warm-up included) and over the probe.
#
#   cmd/edgemq-bench/cluster_ab.sh BASE_REV [PAIRS]    # PAIRS ABBA pairs, default 2
#   SYNC=2m cmd/edgemq-bench/cluster_ab.sh 6e69154     # the nodes' sync_interval
#
# Environment: SYNC (default always), REPLICAS (default 3), RATE (default
# 5000), DURATION (default 10s), BROKER_CPUS (default 0,1), BENCH_CPU
# (default 1). Uses the example ports (1891-1893, 4231-4233, 6231-6233,
# 9191-9193): nothing else may listen there.
set -euo pipefail

base=${1:?usage: cluster_ab.sh BASE_REV [PAIRS]}
pairs=${2:-2}
SYNC=${SYNC:-always}
REPLICAS=${REPLICAS:-3}
RATE=${RATE:-5000}
DURATION=${DURATION:-10s}
BROKER_CPUS=${BROKER_CPUS:-0,1}
BENCH_CPU=${BENCH_CPU:-1}

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/edgemq-cluster-ab.XXXXXX)
pids=()
log() { echo "cluster_ab: $*" >&2; }
. "$root/cmd/edgemq-bench/ready.sh" # wait_ready
stop_nodes() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
cleanup() {
	stop_nodes
	git -C "$root" worktree remove --force "$work/src-base" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

for p in 1891 1892 1893 4231 4232 4233; do
	if ss -ltn | grep -q ":$p "; then
		log "port $p is in use"
		exit 1
	fi
done

log "building this tree and $base into $work"
git -C "$root" worktree add --detach "$work/src-base" "$base" >/dev/null
for b in base this; do
	src=$root
	[[ $b == base ]] && src=$work/src-base
	mkdir -p "$work/$b"
	(cd "$src" && go build -o "$work/$b/edgemq" ./cmd/edgemq && go build -o "$work/$b/edgemq-bench" ./cmd/edgemq-bench)
done
(cd "$root" && go build -o "$work/streamprobe" ./cmd/edgemq-bench/streamprobe)

start_cluster() { # build
	local dir=$work/run
	rm -rf "$dir"
	mkdir -p "$dir"
	for i in 1 2 3; do
		{
			sed "s/^  replicas: 3$/  replicas: $REPLICAS\n  sync_interval: $SYNC/" "$root/configs/examples/cluster/node$i.yaml"
			printf 'log: {level: warn}\nlimits:\n  max_unauthenticated: 0\n  per_ip_connections: 0\n  rate: {per_ip: 0, global: 0}\n'
		} >"$dir/node$i.yaml"
		(cd "$dir" && exec taskset -c "$BROKER_CPUS" "$work/$1/edgemq" -c "node$i.yaml" >"node$i.log" 2>&1) &
		pids+=($!)
	done
	for i in 1 2 3; do wait_ready "127.0.0.1:919$i"; done
}

# cpu_ms: the nodes' user+system CPU time so far, in milliseconds.
cpu_ms() {
	local t=0 hz
	hz=$(getconf CLK_TCK)
	for p in "${pids[@]}"; do
		read -r u s < <(cut -d' ' -f14,15 "/proc/$p/stat")
		t=$((t + u + s))
	done
	echo $((t * 1000 / hz))
}
load() { cut -d' ' -f1 /proc/loadavg; }

run() { # build
	start_cluster "$1"
	local l0 l1 l2 c0 c1 c2 mq pr
	l0=$(load) c0=$(cpu_ms)
	mq=$(taskset -c "$BENCH_CPU" "$work/$1/edgemq-bench" -json -c 16 -duration "$DURATION" -warmup 2s \
		-pub-addr 127.0.0.1:1891 -sub-addr 127.0.0.1:1892 pairs -k 200 -qos 1 -rate "$RATE" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("throughput %d ack_p50_ms %.1f ack_p99_ms %.1f lost %d errors %d" % (d["throughput"], d["ack_p50_us"]/1e3, d["ack_p99_us"]/1e3, d["lost"], d["errors"]))')
	l1=$(load) c1=$(cpu_ms)
	pr=$(taskset -c "$BENCH_CPU" "$work/streamprobe" -nats nats://127.0.0.1:4231 -rate "$RATE" -duration "$DURATION" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print("stream_p50_ms %.1f stream_p99_ms %.1f" % (d["stream_p50_us"]/1e3, d["stream_p99_us"]/1e3))')
	l2=$(load) c2=$(cpu_ms)
	echo "$(date -u +%H:%M:%S) $1 sync=$SYNC | mqtt load $l0..$l1 $mq cpu_ms $((c1 - c0)) | stream load $l1..$l2 $pr cpu_ms $((c2 - c1))"
	stop_nodes
}

for _ in $(seq 1 "$pairs"); do
	run base
	run this
	run this
	run base
done
