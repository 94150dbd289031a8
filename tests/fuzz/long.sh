#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# long.sh FUZZ_DIR [RUNS] [MAX_SECONDS]: run every target in turn for RUNS
# inputs (default 10 M) or MAX_SECONDS (default 900), whichever ends first,
# on one core, keeping each corpus in FUZZ_DIR/long/<target>. Prints one
# line per target: inputs run, seconds, inputs per second. Smoke first:
# it leaves the seeds in FUZZ_DIR/work/<target>/seeds.
set -uo pipefail

dir=$1
runs=${2:-10000000}
secs=${3:-900}
failed=0
for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	t=$(basename "$bin")
	corpus=$dir/long/$t
	mkdir -p "$corpus" "$dir/crashes"
	log=$dir/long/$t.log
	start=$(date +%s.%N)
	nice -n 10 "$bin" -runs="$runs" -max_total_time="$secs" -max_len=8192 -timeout=20 \
		-rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" \
		"$corpus" "$dir/work/$t/seeds" > "$log" 2>&1
	rc=$?
	end=$(date +%s.%N)
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	el=$(echo "$end - $start" | bc)
	printf '%-14s %10s inputs %7.0f s %8.0f/s%s\n' "$t" "${n:-?}" "$el" \
		"$(echo "${n:-0} / $el" | bc -l)" "$([ $rc -ne 0 ] && echo "  FAILED (rc $rc, $log)")"
	[ $rc -ne 0 ] && failed=1
done
exit $failed
