#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What attaching `vlab dash` costs the guest: the dirty payload writing
# pages flat out (rate=0) for BENCH_SECS seconds, its own count of pages
# written per second, with and without a dashboard attached (its window
# on SDL's dummy video driver: the same watch stream, decoding and
# drawing, no display needed). Runs alternate, BENCH_REPEAT pairs in one
# run, and the best of each side is compared; the spread is (max - min) /
# best of that side. The budget is under 2%.
#
#   make bench-dash [BENCH_REPEAT=5] [BENCH_SECS=6]
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
NAME=bench-dash
. tests/bench/lib.sh

B=${VLAB_BUILD_DIR:-build}
VLAB=$B/vlab
ELF=$B/payloads/dirty.elf
REPEAT=${BENCH_REPEAT:-5}
SECS=${BENCH_SECS:-6}

[ -x "$B/vlab-dash" ] || { echo "$NAME: $B/vlab-dash was not built (needs SDL2)"; exit 2; }

# One run: its pages per second, as the payload counted them.
run() {
	local tag=$1 dash=$2 pid dpid="" line

	"$VLAB" run --kernel "$ELF" --mem 256M --console "file:$T/$tag.con" \
		--control "$T/$tag.sock" --cmdline "rate=0 secs=$SECS" >"$T/$tag.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if [ "$dash" = 1 ]; then
		until [ -S "$T/$tag.sock" ]; do sleep 0.01; done
		SDL_VIDEODRIVER=dummy "$B/vlab-dash" "$T/$tag.sock" >"$T/$tag.dash" 2>&1 &
		dpid=$!
		PIDS+=("$dpid")
	fi
	wait "$pid"
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
		grep -q "attached to" "$T/$tag.dash" ||
			{ echo "$NAME: $tag: the dashboard did not attach" >&2; cat "$T/$tag.dash" >&2; exit 1; }
	fi
	line=$(grep -o 'wrote [0-9]* pages ([0-9]* MB) in [0-9]* ms' "$T/$tag.con")
	[ -n "$line" ] || { echo "$NAME: $tag: no result" >&2; cat "$T/$tag.out" >&2; exit 1; }
	echo "$line" | awk '{ printf "%.0f\n", $2 / $7 * 1000 }'
}

# best spread: of a list of numbers.
stats() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
		printf "%.0f %.1f\n", v[NR], 100 * (v[NR] - v[1]) / v[NR] }'
}

without=()
with=()
for i in $(seq "$REPEAT"); do
	without+=("$(run "plain$i" 0)")
	with+=("$(run "dash$i" 1)")
	echo "$NAME: pair $i: ${without[-1]} pages/s alone, ${with[-1]} with the dashboard"
done
read -r best0 spread0 < <(stats "${without[@]}")
read -r best1 spread1 < <(stats "${with[@]}")
ratio=$(echo "scale=4; $best1 / $best0" | bc)
cost=$(echo "scale=2; 100 * (1 - $ratio)" | bc)
printf '%s: dirty payload, %d s flat out, 256 MiB, best of %d each\n' "$NAME" "$SECS" "$REPEAT"
printf '  without the dashboard  %12s pages/s  (spread %s%%)\n' "$best0" "$spread0"
printf '  with the dashboard     %12s pages/s  (spread %s%%)\n' "$best1" "$spread1"
printf '  ratio %s: the dashboard costs the guest %s%% (budget: under 2%%)\n' "$ratio" "$cost"
uptime | sed 's/^/load while measuring: /'
