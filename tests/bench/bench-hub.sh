#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-hub.sh: 64-byte frames between two PMD guests (guest/payload/net_pmd.c)
# on one hub (shared-memory rings, devices/net/net_hub.c): a sink guest
# polls its RX ring and counts what arrives, from the first frame to the
# last; a blast guest sends BENCH_N (1000000) frames at it in bursts of 32.
# Reported: frames/s delivered to the sink (and the share of the blast that
# arrived; a hub never waits for a slow reader, it drops), and the blast's
# own rate. Anchor, in the same run, alternating: the raw limit of the
# datagram path the hub replaced, 64-byte datagrams between two processes
# on a unix socket (unix_copy -d 64), with no guest and no device; and the
# rings' own limit, 64-byte frames between two processes through the hub's
# calls (hub_copy -d 64).
# Best of BENCH_REPEAT (5) [range], and the median. Target (issue 14):
# >= 1 M frames/s.
#
# Both vCPUs poll, each holding a host CPU; on a 2-CPU machine the two
# vlab device workers (TX of the blast, RX of the sink) share them. Where
# the scheduler puts a guest's vCPU and its own worker on one CPU, the
# spinning vCPU waits out whole time slices for the worker it spins on,
# and that run is several times slower: hence the range. Each run's line
# says how often that was so (sampled every 50 ms while the blast runs).
set -euo pipefail
NAME=bench-hub
. "$(dirname "$0")/lib.sh"

top=$(git rev-parse --show-toplevel)
vlab=$top/build/vlab
elf=$top/build/payloads/net_pmd.elf
copy=$top/build/tests/bench/unix_copy
hcopy=$top/build/tests/bench/hub_copy
bench_need "make bench-hub builds them" "$vlab" "$elf" "$copy" "$hcopy"
repeat=${BENCH_REPEAT:-5}
n=${BENCH_N:-1000000}
sink_mac=52:54:00:00:00:02

# threads PID: the stat files of PID's vcpu0 and net-pair0 threads, in VCPU_STAT and WORKER_STAT.
threads() {
	local t c

	VCPU_STAT= WORKER_STAT=
	for t in /proc/"$1"/task/*; do
		read -r c <"$t/comm" 2>/dev/null || continue
		case $c in
		vcpu0) VCPU_STAT=$t/stat ;;
		net-pair0) WORKER_STAT=$t/stat ;;
		esac
	done
}

# same_cpu VCPU_STAT WORKER_STAT: SAME=1 if both threads last ran on one
# CPU (field 39), else 0. Builtins only: the sampler must not load the CPUs.
same_cpu() {
	local v w

	SAME=0
	read -ra v <"$1" 2>/dev/null || return
	read -ra w <"$2" 2>/dev/null || return
	[ "${v[38]}" = "${w[38]}" ] && SAME=1
}

# run DIR: one sink and one blast on a fresh hub; 1 if either failed. While
# the blast runs, DIR/placement gets a line a sample: whether the sink's
# vCPU and its worker shared a CPU, and the blast's.
run() {
	local d=$1 s b bv

	mkdir -p "$d"
	"$vlab" run --kernel "$elf" --mem 64M --net "hub=$d/hub,mac=$sink_mac" \
		--cmdline "role=sink count=$n timeout=120" </dev/null >"$d/sink.con" 2>&1 &
	s=$!
	PIDS+=("$s")
	wait_for "$d/sink.con" "ready for" 120 "$s" || return 1
	"$vlab" run --kernel "$elf" --mem 64M --net "hub=$d/hub,mac=52:54:00:00:00:01" \
		--cmdline "role=blast peer=$sink_mac count=$n size=26 timeout=120" \
		</dev/null >"$d/blast.con" 2>&1 &
	b=$!
	PIDS+=("$b")
	threads "$s"
	local sv=$VCPU_STAT sw=$WORKER_STAT ss
	sleep 0.05
	threads "$b"
	: >"$d/placement"
	while kill -0 "$b" 2>/dev/null; do
		same_cpu "$sv" "$sw"
		ss=$SAME
		same_cpu "$VCPU_STAT" "$WORKER_STAT"
		echo "$ss $SAME" >>"$d/placement"
		sleep 0.05
	done
	wait "$b" || return 1
	wait_for "$d/sink.con" "payload: net_pmd ok" 120 "$s" || return 1
	wait "$s" 2>/dev/null || true
}

# stats VALUES...: "best [min-max], median M".
stats() {
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { v[NR] = $1; top = $1 }
		END { printf "%.0f [%.0f-%.0f], median %.0f", top, lo, top, v[int((NR + 1) / 2)] }'
}

sink=() blast=() share=() dgram=() rings=() place=()
for ((r = 0; r < repeat; r++)); do
	dgram+=("$("$copy" -q -s 64 -d 64 | awk '{ printf "%.0f", $1 * 1e6 / 64 }')")
	rings+=("$("$hcopy" -q -s 64 -d 64 | awk '{ printf "%.0f", $1 * 1e6 / 64 }')")
	if ! run "$T/$r"; then
		echo "$NAME: run $r failed; its consoles:" >&2
		tail -3 "$T/$r"/*.con >&2
		exit 1
	fi
	read -r got fps <<<"$(sed -n 's/^net_pmd: sink: \([0-9]*\) frames in [0-9]* us: \([0-9]*\) frames\/s.*/\1 \2/p' "$T/$r/sink.con")"
	sink+=("$fps")
	share+=("$(awk -v g="$got" -v n="$n" 'BEGIN { printf "%.0f", 100 * g / n }')")
	blast+=("$(sed -n 's/^net_pmd: blast: [0-9]* frames in [0-9]* us: \([0-9]*\) frames\/s/\1/p' "$T/$r/blast.con")")
	place+=("$(awk -v f="$fps" '{ s += $1; b += $2 } END {
		printf "run: %8d frames/s; a vCPU on its own worker'"'"'s CPU: sink %3.0f%%, blast %3.0f%% of %d samples",
			f, NR ? 100 * s / NR : 0, NR ? 100 * b / NR : 0, NR }' "$T/$r/placement")")
done

best=$(printf '%s\n' "${sink[@]}" | sort -g | tail -1)
anchor=$(printf '%s\n' "${dgram[@]}" | sort -g | tail -1)
echo "$NAME: 64-byte frames, blast guest -> sink guest on one hub, $n sent, best of $repeat [range], median"
printf '%-44s %s\n' "delivered to the sink (frames/s)" "$(stats "${sink[@]}")" \
	"share of the blast delivered (%)" "$(stats "${share[@]}")" \
	"blast's send rate (frames/s)" "$(stats "${blast[@]}")" \
	"anchor: unix datagrams, process to process" "$(stats "${dgram[@]}")" \
	"the hub's rings alone, process to process" "$(stats "${rings[@]}")"
awk -v b="$best" -v a="$anchor" 'BEGIN {
	r = a > 0 ? b / a : 0
	printf "hub / datagram limit: %.2fx; target >= 1000000 frames/s: %s\n", r, (b >= 1000000) ? "met" : "MISSED"
}'
echo "where the scheduler put each guest's vCPU and its own device worker, run by run:"
printf '  %s\n' "${place[@]}"
uptime | sed 's/^/load while measuring: /'
