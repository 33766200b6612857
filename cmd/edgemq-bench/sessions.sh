#!/usr/bin/env bash
# sessions.sh measures persistent sessions in a three-node edgemq cluster
# on this machine (configs/examples/cluster: embedded NATS, replicas 3):
# N sessions (default 100000), each connected with a session expiry,
# subscribed to a topic of its own and disconnected, spread over the
# three nodes and over 8 source addresses (edgemq-bench sessions). It
# reports each node's resident memory and Go heap before and after, per
# session, JetStream's own sizes (account, streams and buckets,
# consumers), then kills node 3 with kill -9 and times until nodes 1 and
# 2 have claimed its sessions (edgemq_cluster_sessions_claimed_total),
# with the claim time the survivors log.
#
#   cmd/edgemq-bench/sessions.sh [-o results.md | results.md]
#
# The nodes' ports are the example's plus OFFSET (default 20000), so
# that the run does not meet a cluster.sh run on the example's ports.
#
# Environment: N (default 100000), EXPIRY (session expiry, default
# 86400), C (sessions opened at a time, default 32), SOURCES (default 8),
# OFFSET, BROKER_CPUS (default 0,1), BENCH_CPU (default 1), KEEP=1 (keep
# the work directory: logs, stores).
set -euo pipefail

out=""
case "${1:-}" in
-o) out="${2:?-o needs a file}" ;;
-h | --help)
	sed -n '2,20p' "$0"
	exit 0
	;;
"") ;;
*) out="$1" ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/edgemq-sessions.XXXXXX)
N=${N:-100000}
EXPIRY=${EXPIRY:-86400}
C=${C:-32}
SOURCES=${SOURCES:-8}
BROKER_CPUS=${BROKER_CPUS:-0,1}
BENCH_CPU=${BENCH_CPU:-1}
OFFSET=${OFFSET:-20000}
pids=()
# port P: the example's port P moved by OFFSET.
port() { echo $(($1 + OFFSET)); }
mqtt() { echo "127.0.0.1:$(port $((1890 + $1)))"; }
ops() { echo "127.0.0.1:$(port $((9190 + $1)))"; }

log() { echo "sessions: $*" >&2; }
. "$root/cmd/edgemq-bench/ready.sh" # wait_ready
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ "${KEEP:-0}" == 1 ]]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

log "building into $work"
(cd "$root" && go build -o "$work/edgemq" ./cmd/edgemq && go build -o "$work/edgemq-bench" ./cmd/edgemq-bench)

settings='log: {level: info}
limits:
  max_unauthenticated: 0
  per_ip_connections: 0
  rate: {per_ip: 0, global: 0}'

# metric OPS NAME: the sum of a metric's samples on a node's /metrics.
metric() {
	curl -fs "http://$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f\n", s }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

declare -A node_pid
for i in 1 2 3; do
	{
		python3 - "$root/configs/examples/cluster/node$i.yaml" "$OFFSET" <<'PY'
import re, sys
text, off = open(sys.argv[1]).read(), int(sys.argv[2])
ports = ("1891", "1892", "1893", "8091", "8092", "8093", "9191", "9192", "9193", "4231", "4232", "4233", "6231", "6232", "6233")
print(re.sub(r"\b(%s)\b" % "|".join(ports), lambda m: str(int(m.group(1)) + off), text))
PY
		echo "$settings"
	} >"$work/node$i.yaml"
	(cd "$work" && exec taskset -c "$BROKER_CPUS" ./edgemq -c "node$i.yaml" >"node$i.log" 2>&1) &
	node_pid[$i]=$!
	pids+=($!)
done
for i in 1 2 3; do wait_ready "$(ops $i)" 60; done

declare -A rss0 heap0 rss1 heap1
for i in 1 2 3; do
	rss0[$i]=$(rss_kb "${node_pid[$i]}")
	heap0[$i]=$(metric "$(ops $i)" go_memstats_heap_inuse_bytes)
done

log "opening $N sessions"
taskset -c "$BENCH_CPU" "$work/edgemq-bench" sessions -json -V 5 -n "$N" -session-expiry "$EXPIRY" -c "$C" -sources "$SOURCES" \
	-addrs "$(mqtt 1),$(mqtt 2),$(mqtt 3)" -nats "nats://127.0.0.1:$(port 4231)" >"$work/sessions.json"
cat "$work/sessions.json" >&2

# The records' last checkpoints settle; then each node's memory.
sleep 5
for i in 1 2 3; do
	rss1[$i]=$(rss_kb "${node_pid[$i]}")
	heap1[$i]=$(metric "$(ops $i)" go_memstats_heap_inuse_bytes)
done
per_node() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["per_broker"][sys.argv[2]])' "$work/sessions.json" "$1"; }

log "kill -9 node 3"
on3=$(per_node "$(mqtt 3)")
c0=$(($(metric "$(ops 1)" edgemq_cluster_sessions_claimed_total) + $(metric "$(ops 2)" edgemq_cluster_sessions_claimed_total)))
t0=$(date +%s.%N)
kill -9 "${node_pid[3]}"
claimed=0
deadline=$((SECONDS + 1800))
while ((SECONDS < deadline)); do
	claimed=$(($(metric "$(ops 1)" edgemq_cluster_sessions_claimed_total) + $(metric "$(ops 2)" edgemq_cluster_sessions_claimed_total) - c0))
	if ((claimed >= on3)); then break; fi
	sleep 0.2
done
t1=$(date +%s.%N)
took=$(python3 -c "print('%.1f' % ($t1 - $t0))")
logged=$(grep -ho 'sessions of a node that is gone claimed.*' "$work/node1.log" "$work/node2.log" | tr '\n' ' ' || true)
declare -A rss2 heap2
for i in 1 2; do
	rss2[$i]=$(rss_kb "${node_pid[$i]}")
	heap2[$i]=$(metric "$(ops $i)" go_memstats_heap_inuse_bytes)
done

{
	echo "| node | sessions | RSS before (MB) | RSS after (MB) | RSS per session (KB) | heap in use before (MB) | after (MB) | heap per session (KB) |"
	echo "|---|---|---|---|---|---|---|---|"
	for i in 1 2 3; do
		n=$(per_node "$(mqtt $i)")
		python3 -c 'import sys
i,n,r0,r1,h0,h1=sys.argv[1:]
n,r0,r1,h0,h1=int(n),int(r0),int(r1),int(h0),int(h1)
print("| node%s | %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |" % (i,n,r0/1024,r1/1024,(r1-r0)/n,h0/2**20,h1/2**20,(h1-h0)/1024/n))' \
			"$i" "$n" "${rss0[$i]}" "${rss1[$i]}" "${heap0[$i]}" "${heap1[$i]}"
	done
	echo
	python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
print("%d sessions (%d failed) opened in %.1f s: %.0f/s" % (r["sessions"], r["failed"], r["seconds"], r["sessions_per_sec"]))
j=r.get("jetstream")
if j:
    print()
    print("JetStream: %d streams, %d consumers, %.1f MB stored, %.1f MB in memory" % (j["streams"], j["consumers"], j["store_bytes"]/2**20, j["memory_bytes"]/2**20))
    print()
    print("| stream | messages | bytes (MB) | subjects | consumers |")
    print("|---|---|---|---|---|")
    for k,v in j["by_stream"].items():
        print("| %s | %d | %.1f | %d | %d |" % (k, v["messages"], v["bytes"]/2**20, v["subjects"], v["consumers"]))' "$work/sessions.json"
	echo
	echo "kill -9 of node 3 ($on3 sessions): claimed by nodes 1 and 2 ($claimed) ${took} s after the kill (the liveness TTL included)."
	echo "After: node1 RSS $((rss2[1] / 1024)) MB, heap $((heap2[1] / 1048576)) MB; node2 RSS $((rss2[2] / 1024)) MB, heap $((heap2[2] / 1048576)) MB."
	echo "Survivors' logs: $logged"
} >"$work/table.md"
if [[ -n "$out" ]]; then cp "$work/table.md" "$out"; fi
cat "$work/table.md"
