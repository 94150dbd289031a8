#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# RC RDMA WRITE between two vlab processes on a hub (rdma_rc bench=N, the
# client's CPL3 driver timing each WRITE from post to completion, then a
# stream with 16 in flight, polling for completions, then the stream again
# with 128 in flight and the vCPU halted while it waits for a completion's
# interrupt, as an application blocked on its completion channel), for
# 64 B, 4 KiB and 64 KiB messages: p50 and p99 latency and bandwidth both
# ways. A polling vCPU holds one of this host's two CPUs and leaves the
# other to the four device threads; a waiting one leaves them both, as the
# anchor has them. The anchor, in the same run: the hub's raw
# frame copy limit, one process sending the RoCE frames' size (a 1024-byte
# path MTU, BENCH_MTU: 1082-byte frames) to another through the hub's
# shared-memory rings, with the calls a NIC makes (hub_copy -d). Target:
# 64 KiB WRITE bandwidth >= 50% of it (either stream; both are printed). Beside it, for the record, unix
# datagrams of that size between two processes (unix_copy -d), the
# transport of the hub before its rings. And the devices alone
# (rdma_stream -p): the same two NICs, hub and RDMA devices with their
# threads, in two processes as the anchor's and the guests' are, driven
# by host threads instead of guests, both
# streams for BENCH_STREAM_MIB (512) MiB: what the transport does without
# a vCPU or KVM, and all this bench measures where /dev/kvm is missing.
# Best of BENCH_REPEAT runs [range].
#
# The server's vCPU is paused while the client measures (its device keeps
# answering); BENCH_PAUSE_SERVER=0 leaves it polling.
#
#   make bench-rdma [BENCH_REPEAT=3] [BENCH_N=1000] [BENCH_PAUSE_SERVER=1] [BENCH_MTU=1024]
#                   [BENCH_STREAM_MIB=512]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

B=${VLAB_BUILD_DIR:-build}
VLAB=$B/vlab
ELF=$B/payloads/rdma_rc.elf
COPY=$B/tests/bench/hub_copy
DGRAM=$B/tests/bench/unix_copy
STREAM=$B/tests/bench/rdma_stream
REPEAT=${BENCH_REPEAT:-3}
N=${BENCH_N:-1000}
PAUSE=${BENCH_PAUSE_SERVER:-1}
MTU=${BENCH_MTU:-1024}
SMIB=${BENCH_STREAM_MIB:-512}
# A middle WRITE packet: Ethernet 14, IPv4 20, UDP 8, BTH 12, the MTU, ICRC 4.
FRAME=$((MTU + 58))
MAC_S=52:54:00:00:42:01
MAC_C=52:54:00:00:42:02

if ! [[ $REPEAT =~ ^[1-9][0-9]*$ && $N =~ ^[1-9][0-9]*$ && $SMIB =~ ^[1-9][0-9]*$ ]]; then
	echo "bench-rdma: BENCH_REPEAT, BENCH_N and BENCH_STREAM_MIB must be >= 1" >&2
	exit 2
fi
NAME=bench-rdma
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
bench_files "make bench-rdma builds them" "$COPY" "$DGRAM" "$STREAM"
KVM=1
if bench_kvm; then
	bench_files "make bench-rdma builds them" "$VLAB" "$ELF"
else
	KVM=0
	echo "bench-rdma: /dev/kvm is not usable here: the devices alone and the copy limit only"
fi

# run DIR: one server/client pair; the client's "bench write" lines in DIR/c.con.
run() {
	local d=$1 s c

	mkdir -p "$d/hub"
	"$VLAB" run --kernel "$ELF" --mem 64M --net "hub=$d/hub,mac=$MAC_S" --rdma net=0 \
		--console "file:$d/s.con" --control "$d/s.sock" --cmdline \
		"role=server ip=10.0.0.1 peer_ip=10.0.0.2 peer_mac=$MAC_C mtu=$MTU" >"$d/s.out" 2>&1 &
	s=$!
	PIDS+=("$s")
	wait_for "$d/s.con" "server ready" 60 "$s" || return 1
	"$VLAB" run --kernel "$ELF" --mem 64M --net "hub=$d/hub,mac=$MAC_C" --rdma net=0 \
		--console "file:$d/c.con" --cmdline \
		"role=client ip=10.0.0.2 peer_ip=10.0.0.1 peer_mac=$MAC_S bench=$N mtu=$MTU" \
		>"$d/c.out" 2>&1 &
	c=$!
	PIDS+=("$c")
	# One-sided WRITEs need nothing from the server's CPU, only its device:
	# its vCPU, polling for "bye", would take a CPU from the devices' threads.
	wait_for "$d/s.con" "server waits for bye" 60 "$s" || return 1
	[ "$PAUSE" = 1 ] && "$VLAB" ctl "$d/s.sock" pause >/dev/null
	wait_for "$d/c.con" "payload: rdma_rc ok" 600 "$c" || return 1
	[ "$PAUSE" = 1 ] && "$VLAB" ctl "$d/s.sock" resume >/dev/null
	wait "$s" 2>/dev/null
	return 0
}

# stats HIGHER_IS_BETTER VALUES...: "best [min-max]".
stats() {
	local hi=$1

	shift
	printf '%s\n' "$@" | sort -g | awk -v hi="$hi" 'NR == 1 { lo = $1 } { top = $1 }
		END { printf "%.1f [%.1f-%.1f]", hi ? top : lo, lo, top }'
}

limits=() dgrams=() dpoll=() dwait=()
for ((r = 0; r < REPEAT; r++)); do
	limits+=("$("$COPY" -q -s 512 -d "$FRAME")")
	dgrams+=("$("$DGRAM" -q -s 256 -d "$FRAME")")
	dpoll+=("$("$STREAM" -q -s "$SMIB" -m "$MTU" -n 16 -p)") || exit 1
	dwait+=("$("$STREAM" -q -s "$SMIB" -m "$MTU" -n 128 -w -p)") || exit 1
	[ "$KVM" = 1 ] || continue
	if ! run "$T/$r"; then
		echo "bench-rdma: run $r failed; logs:" >&2
		tail -5 "$T/$r"/*.con >&2
		exit 1
	fi
done
limit=$(printf '%s\n' "${limits[@]}" | sort -g | tail -1)
# percent VALUE: VALUE as a share of the copy limit.
percent() {
	awk -v v="$1" -v l="$limit" 'BEGIN { printf "%.1f%%", (l > 0 ? 100 * v / l : 0) }'
}
devices_alone() {
	echo "devices alone (rdma_stream -p, no guest), 64 KiB WRITEs, $SMIB MiB: polling, 16 out" \
		"$(stats 1 "${dpoll[@]}") MB/s ($(percent "$(printf '%s\n' "${dpoll[@]}" | sort -g | tail -1)"));" \
		"waiting, 128 out $(stats 1 "${dwait[@]}") MB/s ($(percent "$(printf '%s\n' "${dwait[@]}" | sort -g | tail -1)"))"
}
if [ "$KVM" = 0 ]; then
	echo "hub frame copy limit (hub_copy -d $FRAME, best of $REPEAT): $limit MB/s" \
		"[$(printf '%s\n' "${limits[@]}" | sort -g | head -1)-$limit]"
	devices_alone
	echo "64 KiB WRITE between guests / copy limit: not measured (no /dev/kvm)"
	exit 0
fi

echo "bench-rdma: RC RDMA WRITE between two vlab processes on a hub, path MTU $MTU, $N per" \
	"size, best of $REPEAT runs [range]"
printf '%-9s %-22s %-22s %-24s %-24s\n' size 'p50 us' 'p99 us' 'MB/s polling, 16 out' \
	'MB/s waiting, 128 out'
for size in 64 4096 65536; do
	p50=() p99=() bw=() wbw=()
	for ((r = 0; r < REPEAT; r++)); do
		read -r a b c <<<"$(sed -n "s/^rdma_rc: bench write $size bytes: p50 \([0-9.]*\) us p99 \([0-9.]*\) us, .*: \([0-9.]*\) MB\/s.*/\1 \2 \3/p" "$T/$r/c.con")"
		p50+=("$a") p99+=("$b") bw+=("$c")
		wbw+=("$(sed -n "s/^rdma_rc: bench write-waiting $size bytes: .*: \([0-9.]*\) MB\/s.*/\1/p" "$T/$r/c.con")")
	done
	printf '%-9s %-22s %-22s %-24s %-24s\n' "$size" "$(stats 0 "${p50[@]}")" \
		"$(stats 0 "${p99[@]}")" "$(stats 1 "${bw[@]}")" "$(stats 1 "${wbw[@]}")"
	if [ "$size" = 65536 ]; then
		best64k=$(printf '%s\n' "${bw[@]}" | sort -g | tail -1)
		wait64k=$(printf '%s\n' "${wbw[@]}" | sort -g | tail -1)
	fi
done
echo "hub frame copy limit (hub_copy -d $FRAME, best of $REPEAT): $limit MB/s" \
	"[$(printf '%s\n' "${limits[@]}" | sort -g | head -1)-$limit]"
echo "unix datagrams of $FRAME bytes (unix_copy -d, the old hub's transport): $(stats 1 "${dgrams[@]}") MB/s"
devices_alone
awk -v b="$best64k" -v w="$wait64k" -v l="$limit" 'BEGIN {
	q = l > 0 ? b / l : 0
	qw = l > 0 ? w / l : 0
	printf "64 KiB WRITE / copy limit: polling %.1f%%, waiting %.1f%% (target >= 50%%): %s\n",
		100 * q, 100 * qw, (q >= 0.5 || qw >= 0.5) ? "met" : "MISSED"
}'
uptime | sed 's/^/load while measuring: /'
