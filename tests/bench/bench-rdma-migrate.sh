#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# An RDMA guest live-migrated under load from its peer: two vlab guests on
# a hub, each with --rdma on its NIC, run rdma_rc; the client WRITEs 64 KiB
# into the server's MR, READs it back and FETCH_ADDs its counter, round
# after round, every one checked. The server (the guest the peer writes
# into) is migrated to a new vlab in the middle, for 256 MiB and 1 GiB
# guests. Reported: the source's downtime, and the stall the peer saw (its
# longest round), against the anchor of the same traffic with no move in
# the same run; zero lost or repeated messages is the payload's own check
# (every round, the counter exact). Target: stall < 50 ms.
#
#   make bench-rdma-migrate [BENCH_REPEAT=3]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

B=${VLAB_BUILD_DIR:-build}
VLAB=$B/vlab
ELF=$B/payloads/rdma_rc.elf
REPEAT=${BENCH_REPEAT:-3}
MAC_S=52:54:00:00:40:01
MAC_C=52:54:00:00:40:02

if ! [[ $REPEAT =~ ^[1-9][0-9]*$ ]]; then
	echo "bench-rdma-migrate: BENCH_REPEAT must be >= 1" >&2
	exit 2
fi
NAME=bench-rdma-migrate
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
bench_need "make all payloads" "$VLAB" "$ELF"

# run SIZE MOVE DIR: one run; prints "DOWNTIME_MS STALL_MS" (downtime "-" with
# no move), or "- - WHY".
run() {
	local size=$1 move=$2 d=$3 s c dst down stall

	mkdir -p "$d/hub"
	"$VLAB" run --kernel "$ELF" --mem "$size" --net "hub=$d/hub,mac=$MAC_S" --rdma net=0 \
		--console "file:$d/s.con" --control "$d/s.sock" --cmdline \
		"role=server ip=10.0.0.1 peer_ip=10.0.0.2 peer_mac=$MAC_C" >"$d/s.out" 2>&1 &
	s=$!
	PIDS+=("$s")
	if ! wait_for "$d/s.con" "server ready" 60 "$s"; then
		echo "- - the server did not come up (logs in $d)"
		return
	fi
	"$VLAB" run --kernel "$ELF" --mem "$size" --net "hub=$d/hub,mac=$MAC_C" --rdma net=0 \
		--console "file:$d/c.con" --control "$d/c.sock" --cmdline \
		"role=client ip=10.0.0.2 peer_ip=10.0.0.1 peer_mac=$MAC_S until=request" \
		>"$d/c.out" 2>&1 &
	c=$!
	PIDS+=("$c")
	if ! wait_for "$d/c.con" "rdma_rc: round 300$" 60 "$c"; then
		echo "- - no traffic (logs in $d)"
		return
	fi
	down=-
	if [ "$move" = 1 ]; then
		"$VLAB" run --incoming "unix:$d/m.sock" --mem "$size" \
			--net "hub=$d/hub,mac=$MAC_S" --rdma net=0 --console "file:$d/d.con" \
			>"$d/d.out" 2>&1 &
		dst=$!
		PIDS+=("$dst")
		if ! wait_for "$d/d.out" "waiting for a migration stream" 60 "$dst" ||
		   ! "$VLAB" ctl --timeout 0 --wait "$d/s.sock" migrate "uri=unix:$d/m.sock" \
			>"$d/ctl.out" 2>&1; then
			echo "- - the migration failed (logs in $d)"
			return
		fi
		down=$(grep -o 'downtime [0-9.]* ms' "$d/s.out" | tail -1 | awk '{ print $2 }')
	fi
	# As many rounds again after the move, then stop.
	sleep 1
	"$VLAB" ctl "$d/c.sock" test-request value=1 >/dev/null 2>&1
	if ! wait_for "$d/c.con" "payload: rdma_rc ok" 60 "$c"; then
		echo "- - the traffic did not end well (logs in $d)"
		return
	fi
	stall=$(grep -o 'longest round took [0-9]* us' "$d/c.con" | awk '{ printf "%.1f", $4 / 1000 }')
	echo "$down $stall"
}

# stats VALUES...: "best [min-max]" of numbers (lower is better).
stats() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { printf "%7.1f [%.1f-%.1f]", lo, lo, hi }'
}

echo "bench-rdma-migrate: an RDMA guest moved under WRITE, READ and FETCH_ADD load from its"
echo "peer (best of $REPEAT runs [range], ms; stall = the peer's longest round, anchor = the"
echo "same traffic, no move)"
printf '%-6s %22s %22s %22s %8s\n' guest 'downtime' 'stall' 'anchor (no move)' 'target'
for size in 256M 1G; do
	downs=() stalls=() anchors=() why=""
	for ((r = 0; r < REPEAT; r++)); do
		read -r a1 a2 rest <<<"$(run "$size" 0 "$T/$size.anchor.$r")"
		read -r m1 m2 rest2 <<<"$(run "$size" 1 "$T/$size.move.$r")"
		if [ "$a2" = - ] || [ "$m2" = - ]; then
			why="${rest:-$rest2}"
			break
		fi
		anchors+=("$a2")
		downs+=("$m1")
		stalls+=("$m2")
		kill -9 "${PIDS[@]}" 2>/dev/null
		wait 2>/dev/null
		PIDS=()
	done
	if [ -n "$why" ]; then
		printf '%-6s %s\n' "$size" "$why"
		continue
	fi
	printf '%-6s %22s %22s %22s %8s\n' "$size" "$(stats "${downs[@]}")" \
		"$(stats "${stalls[@]}")" "$(stats "${anchors[@]}")" "< 50"
done
echo "(zero lost or repeated messages: every round's WRITE read back and FETCH_ADD value"
echo " checked by the guests themselves, the counter exact at the end)"
