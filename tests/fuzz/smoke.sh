#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smoke.sh FUZZ_DIR [RUNS]: run every libFuzzer target in FUZZ_DIR for RUNS
# inputs (default 100000) from its seeds, with a fixed seed so a run is
# repeatable. Fails on the first crash, leak, sanitizer report or timeout;
# the input that did it is left in FUZZ_DIR/crashes/.
#
# Seeds: tests/fuzz/seeds/<target>/ (small, checked in), plus what a target
# writes itself when run with FUZZ_MAKE_SEEDS=DIR (built by the project's
# own savers), plus the payload ELFs for fuzz_boot when they are built.
set -euo pipefail

dir=$1
runs=${2:-100000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$dir/crashes"
failed=0
for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	t=$(basename "$bin")
	work=$dir/work/$t
	rm -rf "$work"
	mkdir -p "$work/seeds" "$work/corpus"
	[ -d "$root/tests/fuzz/seeds/$t" ] && cp "$root/tests/fuzz/seeds/$t"/* "$work/seeds/"
	FUZZ_MAKE_SEEDS=$work/seeds "$bin" -runs=0 >/dev/null 2>&1 || true
	if [ "$t" = fuzz_boot ] && [ -d "$root/build/payloads" ]; then
		cp "$root"/build/payloads/hello.elf "$work/seeds/" 2>/dev/null || true
	fi
	start=$SECONDS
	if "$bin" -runs="$runs" -seed=1 -max_len=8192 -timeout=20 -rss_limit_mb=4096 \
		-artifact_prefix="$dir/crashes/$t-" "$work/corpus" "$work/seeds" \
		> "$work/log" 2>&1; then
		echo "fuzz-smoke: $t: $runs inputs in $((SECONDS - start)) s, $(ls "$work/corpus" | wc -l) in its corpus"
	else
		echo "fuzz-smoke: $t FAILED after $((SECONDS - start)) s; log $work/log:"
		tail -40 "$work/log"
		failed=1
	fi
done
exit $failed
