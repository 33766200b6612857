# ready.sh is sourced by the cluster bench scripts (cluster.sh,
# cluster_ab.sh, sessions.sh), not run: what they share. The sourcing
# script defines log MESSAGE.

# wait_ready ADDR [SECONDS]: waits until the ops listener at ADDR
# (host:port) answers 200 on /readyz, polling every 0.1 s for at most
# SECONDS (default 30); logs and returns 1 when it never does.
wait_ready() {
	local tries=$((${2:-30} * 10))
	for _ in $(seq 1 "$tries"); do
		if curl -fs "http://$1/readyz" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	log "$1 never became ready"
	return 1
}
