#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Downtime of a local migration (mode=local: guest RAM handed over by file
# descriptor) beside an ordinary one (pre-copy over the same unix socket),
# for guests of 256 MiB, 4 GiB and 16 GiB. The guest is the dirty payload
# writing 10 MB/s round-robin (fill=0: RAM it has not reached yet is
# untouched, and costs the host nothing), on --mem-backend memfd, so both
# modes move the same source; the destination is a plain vlab. Each cell is
# run BENCH_REPEAT times with fresh processes: the best downtime, the
# spread (min-max) and the median of total time. The payload column says
# whether the guest, told to stop at the destination, found every page it
# wrote right.
#
#   make bench-migrate-local [BENCH_SIZES="256M 4G 16G"] [BENCH_REPEAT=3]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

B=${VLAB_BUILD_DIR:-build}
VLAB=$B/vlab
ELF=$B/payloads/dirty.elf
SIZES=${BENCH_SIZES:-256M 4G 16G}
REPEAT=${BENCH_REPEAT:-3}

if ! [[ $REPEAT =~ ^[1-9][0-9]*$ ]]; then
	echo "bench-migrate-local: BENCH_REPEAT must be >= 1" >&2
	exit 2
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "bench-migrate-local: SKIP: /dev/kvm is not usable here"
	exit 0
fi
for f in "$VLAB" "$ELF"; do
	if [ ! -e "$f" ]; then
		echo "bench-migrate-local: $f missing (make all payloads)" >&2
		exit 2
	fi
done

NAME=bench-migrate-local
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

stop() {
	kill -9 "$@" 2>/dev/null
	wait "$@" 2>/dev/null
} 2>/dev/null

# field NAME FILE: the number after "NAME: " in a `vlab ctl` reply.
field() { sed -n "s/^$1: \([0-9.]*\).*/\1/p" "$2" | head -1; }

# run SIZE MODE N: one migration; "DOWNTIME TOTAL MB VERDICT" on stdout.
run() {
	local size=$1 mode=$2 n=$3 d=$T/$1-$2-$3 src dst verdict

	mkdir -p "$d"
	"$VLAB" run --incoming "unix:$d/mig.sock" --mem "$size" --console "file:$d/dst.con" \
		--control "$d/dst.sock" >"$d/dst.out" 2>&1 &
	dst=$!
	PIDS+=("$dst")
	"$VLAB" run --kernel "$ELF" --mem "$size" --mem-backend memfd \
		--cmdline "fill=0 rate=10 secs=600 until=request" --console "file:$d/src.con" \
		--control "$d/src.sock" >"$d/src.out" 2>&1 &
	src=$!
	PIDS+=("$src")
	if ! wait_for "$d/dst.out" "waiting for a migration stream" 120 "$dst" ||
	   ! wait_for "$d/src.con" "dirty: " 60 "$src"; then
		echo "- - - did-not-start"
		stop "$src" "$dst"
		return
	fi
	sleep 1
	if ! "$VLAB" ctl --timeout 120 "$d/src.sock" migrate "uri=unix:$d/mig.sock" \
		"mode=$mode" --wait >"$d/reply" 2>&1; then
		echo "- - - $(head -c 60 "$d/reply" | tr ' \n' '_ ')"
		stop "$src" "$dst"
		return
	fi
	wait "$src" 2>/dev/null
	"$VLAB" ctl --timeout 30 "$d/dst.sock" test-request value=1 >/dev/null 2>&1
	if wait_for "$d/dst.con" "payload: dirty" 60 "$dst" &&
	   grep -q "payload: dirty ok" "$d/dst.con"; then
		verdict=ok
	else
		verdict=BAD
	fi
	stop "$dst"
	echo "$(field downtime_ms "$d/reply") $(field total_ms "$d/reply") $(field mb_sent "$d/reply") $verdict"
}

# stats V...: "min max median" of the numbers given.
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		printf "%s %s %s\n", v[1], v[NR], v[int((NR + 1) / 2)] }'
}

echo "bench-migrate-local: downtime, best of $REPEAT (spread min-max), $(nproc) CPUs"
printf '%-6s %-8s %12s %17s %14s %9s %8s\n' size mode "downtime ms" "spread ms" "total ms (med)" \
	"MB sent" payload
for size in $SIZES; do
	for mode in precopy local; do
		downs=() totals=() mb=- verdict=ok
		for ((i = 0; i < REPEAT; i++)); do
			read -r down total m v < <(run "$size" "$mode" "$i")
			if [ "$down" = - ]; then
				verdict=$v
				continue
			fi
			downs+=("$down")
			totals+=("$total")
			mb=$m
			[ "$v" = ok ] || verdict=$v
		done
		if [ ${#downs[@]} -eq 0 ]; then
			printf '%-6s %-8s %12s %17s %14s %9s %8s\n' "$size" "$mode" - - - - "$verdict"
			continue
		fi
		read -r dmin dmax _ < <(stats "${downs[@]}")
		read -r _ _ tmed < <(stats "${totals[@]}")
		printf '%-6s %-8s %12.1f %17s %14.0f %9.1f %8s\n' "$size" "$mode" "$dmin" \
			"$(printf '%.1f-%.1f' "$dmin" "$dmax")" "$tmed" "$mb" "$verdict"
	done
done
