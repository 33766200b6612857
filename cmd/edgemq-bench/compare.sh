#!/usr/bin/env bash
# compare.sh runs every edgemq-bench scenario against Mosquitto and edgemq,
# one broker at a time, in one sitting, and writes a Markdown table.
#
#   cmd/edgemq-bench/compare.sh [-o results.md | results.md]
#   QUICK=1 cmd/edgemq-bench/compare.sh      # smoke run: small N, short runs
#   ONLY=retained cmd/edgemq-bench/compare.sh  # the retained runs alone
#   ONLY=flow ACL=1 cmd/edgemq-bench/compare.sh  # saturated fan-out and
#                                   pairs, both brokers behind an ACL
#   ONLY=density cmd/edgemq-bench/compare.sh   # idle memory per connection
#   ONLY=latency cmd/edgemq-bench/compare.sh   # p99 at 20,000 deliveries/s
#
# Both brokers get equivalent configurations: anonymous access, one tcp,
# tls, ws and wss listener each (ports distinct per broker), the same
# self-signed ECDSA P-256 certificate (TLS 1.3 only), 20 in-flight QoS 1/2
# messages and 1000 queued per client, no persistence, TCP_NODELAY. The
# broker runs pinned to CPU 0 (taskset -c 0), the load tool to CPU 1.
# Mosquitto comes from Debian (apt-get, the system service is not
# started: it runs from our configuration only).
#
# Environment: QUICK=1 (smoke run), ONLY=retained (only the retained
# runs), ONLY=flow (only the saturated fan-out and pairs runs),
# ONLY=density (only the connect runs: idle RSS growth per connection,
# CONNS tcp and TLS_CONNS tls, ws and wss connections) or ONLY=latency
# (only the fixed-rate runs), REPEAT=N (every run N times against a fresh
# broker, each figure the median), ACL=1
# (both brokers check every publish and delivery against an ACL with
# %u and %c rules ahead of the one that allows the bench topics), V (MQTT
# level of the pub/sub runs, default 4 = 3.1.1),
# RETAINED (retained messages stored, default 100000), CONNS / TLS_CONNS
# (connections of the tcp / tls, ws and wss connect runs, default 19000 /
# 5000: the open file limit is 20000), BROKER_CPU /
# BENCH_CPU (default 0 / 1), KEEP=1 (keep the work directory), RT=1 (run
# the broker and the load tool at real-time priority, chrt -f 10, so that
# other work on a shared machine cannot delay their wake-ups: the fixed-
# rate rows then measure the brokers, not the neighbours; meant for
# ONLY=latency: saturated runs would hold both cores from everything
# else; needs root or CAP_SYS_NICE; see BENCHMARKS.md, tail latency).
set -euo pipefail

out=""
case "${1:-}" in
-o) out="${2:?-o needs a file}" ;;
-h | --help)
	sed -n '2,38p' "$0"
	exit 0
	;;
"") ;;
*) out="$1" ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/edgemq-compare.XXXXXX)
# Mosquitto started as root switches to user mosquitto: it must be able to
# read the configuration and certificate.
chmod 755 "$work"
QUICK=${QUICK:-0}
ONLY=${ONLY:-}
V=${V:-4}
BROKER_CPU=${BROKER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
broker_pid=""

log() { echo "compare: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cleanup() {
	stop_broker
	if [[ "${KEEP:-0}" == 1 ]]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [[ "$QUICK" == 1 ]]; then
	CONNS=${CONNS:-2000} TLS_CONNS=${TLS_CONNS:-1000} HOLD=1s DURATION=2s WARMUP=500ms
	RETAINED=${RETAINED:-10000}
else
	CONNS=${CONNS:-19000} TLS_CONNS=${TLS_CONNS:-5000} HOLD=5s DURATION=10s WARMUP=2s
	RETAINED=${RETAINED:-100000}
fi
REPEAT=${REPEAT:-1}
case "$ONLY" in
"" | retained | flow | density | latency) ;;
*) die "ONLY=$ONLY: want retained, flow, density or latency" ;;
esac
ACL=${ACL:-0}
# rt: the prefix that runs a broker or the load tool at real-time priority
# (RT=1), empty otherwise.
rt=()
if [[ "${RT:-0}" == 1 ]]; then
	chrt -f 10 true 2>/dev/null || die "RT=1: chrt -f 10 is not permitted here (needs root or CAP_SYS_NICE)"
	rt=(chrt -f 10)
fi

# --- Mosquitto, from Debian, never as the system service ---------------
if ! command -v mosquitto >/dev/null; then
	sudo=""
	[[ $(id -u) == 0 ]] || sudo=sudo
	log "installing mosquitto with apt-get"
	# policy-rc.d 101 keeps the package from starting its service.
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
		$sudo chmod +x $policy
		made_policy=1
	fi
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto
	[[ $made_policy == 1 ]] && $sudo rm -f $policy
	if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
		$sudo systemctl stop mosquitto
	fi
fi
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)

ulimit -n 20000 || die "cannot raise the open file limit to 20000 (ulimit -n); the connect storm needs it"

# --- builds ------------------------------------------------------------
log "building edgemq and edgemq-bench"
(cd "$root" && go build -o "$work/edgemq" ./cmd/edgemq && go build -o "$work/edgemq-bench" ./cmd/edgemq-bench)
bench="$work/edgemq-bench"

# --- one certificate for both ------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
	-keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 644 "$work/key.pem"

# --- configurations ----------------------------------------------------
# Ports: below the ephemeral range (32768 and up), where the thousands
# of client connections of a storm could take them.
declare -A port=(
	[mosquitto.tcp]=23883 [mosquitto.tls]=23884 [mosquitto.ws]=23885 [mosquitto.wss]=23886
	[edgemq.tcp]=24883 [edgemq.tls]=24884 [edgemq.ws]=24885 [edgemq.wss]=24886
)

cat >"$work/mosquitto.conf" <<EOF
# Equivalent of edgemq.yaml below.
per_listener_settings false
allow_anonymous true
persistence false
max_inflight_messages 20
max_queued_messages 1000
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
max_connections -1

listener ${port[mosquitto.tcp]} 127.0.0.1

listener ${port[mosquitto.tls]} 127.0.0.1
certfile $work/cert.pem
keyfile $work/key.pem
tls_version tlsv1.3

listener ${port[mosquitto.ws]} 127.0.0.1
protocol websockets

listener ${port[mosquitto.wss]} 127.0.0.1
protocol websockets
certfile $work/cert.pem
keyfile $work/key.pem
tls_version tlsv1.3
EOF

if [[ "$ACL" == 1 ]]; then
	# Rules that name the client ahead of the one that allows the bench
	# topics: each check walks them first.
	cat >"$work/mosquitto.acl" <<EOF
pattern readwrite users/%u/#
pattern read private/%c/#
pattern write devices/%c/#
topic readwrite bench/#
EOF
	chmod 644 "$work/mosquitto.acl"
	echo "acl_file $work/mosquitto.acl" >>"$work/mosquitto.conf"
fi

# configs/examples/bench.yaml with the equivalents of the above.
cat >"$work/edgemq.yaml" <<EOF
log:
  level: warn
data_dir: $work/data-edgemq
store: {durability: memory}
ops: {address: ""}
limits:
  max_unauthenticated: 0
  per_ip_connections: 0
  rate: {per_ip: 0, global: 0}
mqtt:
  receive_maximum: 20
  max_inflight: 20
session:
  max_outbound_queue: 1000
  max_offline_messages: 1000
tls:
  bench:
    source: files
    files:
      - {cert: $work/cert.pem, key: $work/key.pem}
    min_version: "1.3"
listeners:
  - {name: tcp, type: tcp, address: 127.0.0.1:${port[edgemq.tcp]}, allow_anonymous: true}
  - {name: tls, type: tls, address: 127.0.0.1:${port[edgemq.tls]}, tls: bench, allow_anonymous: true}
  - {name: ws, type: ws, address: 127.0.0.1:${port[edgemq.ws]}, allow_anonymous: true}
  - {name: wss, type: wss, address: 127.0.0.1:${port[edgemq.wss]}, tls: bench, allow_anonymous: true}
EOF
if [[ "$ACL" == 1 ]]; then
	cat >>"$work/edgemq.yaml" <<EOF
acl:
  default: deny
  rules:
    - {permission: allow, action: all, topic: "users/%u/#"}
    - {permission: allow, action: subscribe, topic: "private/%c/#"}
    - {permission: allow, action: publish, topic: "devices/%c/#"}
    - {permission: allow, action: all, topic: "bench/#"}
EOF
fi

# --- versions ----------------------------------------------------------
mosq_version=$("$mosquitto" -h 2>&1 | head -1 || true)
go_version=$(go version)
edgemq_version=$("$work/edgemq" --version 2>&1 | head -1)
log "$mosq_version / $edgemq_version / $go_version"

# --- broker control ----------------------------------------------------
start_broker() { # name
	case "$1" in
	mosquitto) ${rt[@]+"${rt[@]}"} taskset -c "$BROKER_CPU" "$mosquitto" -c "$work/mosquitto.conf" 2>>"$work/mosquitto.log" &
		;;
	edgemq) ${rt[@]+"${rt[@]}"} taskset -c "$BROKER_CPU" "$work/edgemq" -c "$work/edgemq.yaml" 2>>"$work/edgemq.log" &
		;;
	esac
	broker_pid=$!
	for _ in $(seq 100); do
		if "$bench" -addr "127.0.0.1:${port[$1.tcp]}" -n 1 -c 1 -id probe connect >/dev/null 2>&1; then
			sleep 0.3 # the other listeners, or a failure to start them
			kill -0 "$broker_pid" 2>/dev/null || die "$1 stopped; see $work/$1.log: $(tail -n 5 "$work/$1.log")"
			return 0
		fi
		kill -0 "$broker_pid" 2>/dev/null || die "$1 did not start; see $work/$1.log: $(tail -n 5 "$work/$1.log")"
		sleep 0.1
	done
	die "$1 is not answering on port ${port[$1.tcp]}"
}

stop_broker() {
	if [[ -n "$broker_pid" ]]; then
		kill "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
		broker_pid=""
	fi
}

commands="$work/commands.txt"
: >"$commands"

# run BROKER LABEL TRANSPORT ARGS...: one bench run against a fresh broker;
# its JSON line goes to $work/BROKER.jsonl prefixed with LABEL.
run() {
	local broker=$1 label=$2 transport=$3
	shift 3
	start_broker "$broker"
	local cmd=(${rt[@]+"${rt[@]}"} taskset -c "$BENCH_CPU" "$bench" -transport "$transport" -addr "127.0.0.1:${port[$broker.$transport]}"
		-cafile "$work/cert.pem" -sources 8 -pid "$broker_pid" -json "$@")
	echo "${cmd[*]}" | sed "s|$work|\$WORK|g; s|-pid $broker_pid|-pid \$${broker^^}_PID|" >>"$commands"
	log "$broker $label"
	echo "== $broker $label" >>"$work/bench.log"
	local line
	if line=$("${cmd[@]}" 2>>"$work/bench.log"); then
		printf '%s\t%s\n' "$label" "$line" >>"$work/$broker.jsonl"
	else
		log "$broker $label failed: $(tail -n 2 "$work/bench.log")"
		printf '%s\t{}\n' "$label" >>"$work/$broker.jsonl"
	fi
	stop_broker
}

flow_common=(-V "$V" -size 64 -duration "$DURATION" -warmup "$WARMUP")
# connect_runs BROKER: the connect storms, each held idle for the memory
# figure (tcp: CONNS connections, the others TLS_CONNS).
connect_runs() {
	local n
	for t in tcp tls ws wss; do
		n=$TLS_CONNS
		[[ $t == tcp ]] && n=$CONNS
		run "$1" "connect $t" "$t" -n "$n" -c 64 -hold "$HOLD" connect
	done
}
# rate_runs BROKER Q: the runs at 20,000 deliveries/s.
rate_runs() {
	local q=$2 w=1000
	[[ $q == 1 ]] && w=20
	run "$1" "fanin 4→1 qos$q 20k/s" tcp "${flow_common[@]}" -qos $q -window $w -p 4 -rate 20000 fanin
	run "$1" "fanout 1→100 qos$q 20k/s" tcp "${flow_common[@]}" -qos $q -window $w -k 100 -rate 200 fanout
	run "$1" "pairs 200 qos$q 20k/s" tcp "${flow_common[@]}" -qos $q -window $w -k 200 -rate 20000 pairs
}
: >"$work/mosquitto.jsonl"
: >"$work/edgemq.jsonl"
# With REPEAT, the brokers take turns, one whole pass each, so that a
# change in the machine's load falls on both.
for rep in $(seq "$REPEAT"); do
	for broker in mosquitto edgemq; do
		[[ "$REPEAT" == 1 ]] || log "pass $rep of $REPEAT"
		case "$ONLY" in
		density)
			connect_runs "$broker"
			continue
			;;
		latency)
			rate_runs "$broker" 0
			rate_runs "$broker" 1
			continue
			;;
		esac
		# Retained messages on SUBSCRIBE: $RETAINED stored (at QoS 1, 20
		# unacknowledged at most), then one new subscriber to prefix/#,
		# timed until it has them all; 120 s at most.
		for q in 0 1; do
			[[ "$ONLY" == flow ]] && break
			run "$broker" "retained qos$q" tcp -V "$V" -size 64 -qos $q -n "$RETAINED" -window 20 -duration 120s retained
		done
		[[ "$ONLY" == retained ]] && continue
		if [[ "$ONLY" == flow ]]; then
			for q in 0 1; do
				w=250
				[[ $q == 1 ]] && w=20
				run "$broker" "fanout 1→100 qos$q sat" tcp "${flow_common[@]}" -qos $q -window $w -k 100 fanout
				run "$broker" "pairs 200 qos$q sat" tcp "${flow_common[@]}" -qos $q -window $w -k 200 pairs
			done
			continue
		fi
		connect_runs "$broker"
		for q in 0 1; do
			# Saturation: QoS 0 keeps at most 250 messages per publisher
			# on their way (fanin: 1000 for its one subscriber, the queue
			# bound); QoS 1 at most 20 unacknowledged per publisher, the
			# brokers' in-flight limit (a 3.1.1 client is not told it, and
			# Mosquitto drops what goes beyond).
			w=250
			[[ $q == 1 ]] && w=20
			run "$broker" "fanin 4→1 qos$q sat" tcp "${flow_common[@]}" -qos $q -window $w -p 4 fanin
			run "$broker" "fanout 1→100 qos$q sat" tcp "${flow_common[@]}" -qos $q -window $w -k 100 fanout
			run "$broker" "pairs 200 qos$q sat" tcp "${flow_common[@]}" -qos $q -window $w -k 200 pairs
			rate_runs "$broker" $q
		done
	done
done

# --- the table ---------------------------------------------------------
# field LABEL BROKER KEY: a number from that run's JSON line; with
# REPEAT, the median of the runs' (the lower middle one of an even count).
field() {
	awk -F'\t' -v l="$1" '$1 == l {print $2}' "$work/$2.jsonl" |
		{ grep -o "\"$3\":[-0-9.e+]*" || true; } | cut -d: -f2 | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

row() { # LABEL METRIC KEY FORMAT
	local m e ratio
	m=$(field "$1" mosquitto "$3")
	e=$(field "$1" edgemq "$3")
	[[ -z "$m" && -z "$e" ]] && return 0 # a run this sitting did not make
	ratio=$(awk -v m="${m:-}" -v e="${e:-}" 'BEGIN { if (m != "" && e != "" && m + 0 != 0) printf "%.2f", e / m; else print "–" }')
	printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" \
		"$(awk -v x="${m:-}" -v f="$4" 'BEGIN { if (x == "") print "–"; else printf f, x }')" \
		"$(awk -v x="${e:-}" -v f="$4" 'BEGIN { if (x == "") print "–"; else printf f, x }')" "$ratio"
}

table() {
	echo "# edgemq vs Mosquitto"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), broker on CPU $BROKER_CPU, load tool on CPU $BENCH_CPU."
	[[ "$QUICK" == 1 ]] && echo "QUICK=1 smoke run: small N and short runs; the figures are not representative."
	echo
	echo "- $mosq_version"
	echo "- $edgemq_version"
	echo "- $go_version"
	echo "- pub/sub runs: MQTT level $V, 64-byte payloads, $DURATION measured after $WARMUP warm-up; connect storms: $CONNS tcp and $TLS_CONNS tls, ws and wss connections; retained: $RETAINED messages of 64 bytes"
	echo
	[[ "$REPEAT" == 1 ]] || echo "Each figure is the median of $REPEAT runs, the brokers taking turns."
	[[ "$REPEAT" == 1 ]] || echo
	echo "Load average when the sitting ended: $(cut -d' ' -f1-3 /proc/loadavg)."
	[[ ${#rt[@]} == 0 ]] || echo "RT=1: the brokers and the load tool ran at real-time priority (${rt[*]}); other work on the machine could not delay their wake-ups."
	echo
	echo "Ratio is edgemq / Mosquitto. Throughput and connects/s: higher is better; latency, KB and CPU: lower is better."
	echo
	echo "| scenario | metric | mosquitto | edgemq | ratio |"
	echo "|---|---|---|---|---|"
	for q in 0 1; do
		row "retained qos$q" "messages received of $RETAINED" received "%d"
		row "retained qos$q" "s to the last message" seconds "%.3f"
		row "retained qos$q" "broker RSS KB before SUBSCRIBE" rss_before_kb "%d"
		row "retained qos$q" "broker peak RSS KB" peak_rss_kb "%d"
	done
	[[ "$ONLY" == retained ]] || table_flows
	echo
	echo "Commands (\$WORK holds the generated configurations and certificate; each run starts a fresh broker):"
	echo
	echo '```'
	echo "${rt[*]}${rt[*]:+ }taskset -c $BROKER_CPU mosquitto -c \$WORK/mosquitto.conf"
	echo "${rt[*]}${rt[*]:+ }taskset -c $BROKER_CPU edgemq -c \$WORK/edgemq.yaml"
	awk '!seen[$0]++' "$commands"
	echo '```'
	echo
	echo "<details><summary>Configurations</summary>"
	echo
	echo '```'
	sed "s|$work|\$WORK|g" "$work/mosquitto.conf"
	echo '```'
	echo
	echo '```yaml'
	sed "s|$work|\$WORK|g" "$work/edgemq.yaml"
	echo '```'
	echo
	echo "</details>"
}

# table_flows: the rows of the connect and publish/subscribe runs.
table_flows() {
	for t in tcp tls ws wss; do
		row "connect $t" "connects/s" connects_per_sec "%.0f"
		row "connect $t" "KB per connection" kb_per_conn "%.2f"
		row "connect $t" "failed" failed "%d"
	done
	for q in 0 1; do
		for s in "fanin 4→1" "fanout 1→100" "pairs 200"; do
			row "$s qos$q sat" "deliveries/s" throughput "%.0f"
			row "$s qos$q sat" "loss %" loss_pct "%.3f"
			row "$s qos$q sat" "broker CPU %" broker_cpu_pct "%.0f"
		done
	done
	for q in 0 1; do
		for s in "fanin 4→1" "fanout 1→100" "pairs 200"; do
			row "$s qos$q 20k/s" "deliveries/s" throughput "%.0f"
			row "$s qos$q 20k/s" "p50 µs" latency_p50_us "%.0f"
			row "$s qos$q 20k/s" "p99 µs" latency_p99_us "%.0f"
			row "$s qos$q 20k/s" "p99.9 µs" latency_p999_us "%.0f"
			row "$s qos$q 20k/s" "loss %" loss_pct "%.3f"
			row "$s qos$q 20k/s" "broker CPU %" broker_cpu_pct "%.0f"
		done
	done
}

if [[ -n "$out" ]]; then
	table | tee "$out"
else
	table
fi
