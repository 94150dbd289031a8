#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-virtq-vs.sh NEW_BENCH [BASE_REV] [ROUNDS]: the virtqueue bench of
# this tree against the same bench built from BASE_REV (default: the
# commit before memory views, when the ring still reached guest RAM
# directly) in a git worktree, in one run. Each round runs both, in
# alternating order, one pass each; a cell's ratio is new/old of the best
# "median round trip" Mpps over all rounds, with the range of the
# per-round ratios as its spread. ratio >= 0.97 everywhere: the identity
# view costs nothing measurable.
set -euo pipefail

new=$1
base=${2:-e8a8f34^}
rounds=${3:-5}
frames=${FRAMES:-1000000}
top=$(git rev-parse --show-toplevel)
wt=$(mktemp -d /tmp/vlab-bench-base.XXXXXX)
out=$(mktemp -d /tmp/vlab-bench-out.XXXXXX)

cleanup() {
	git -C "$top" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
	rm -rf "$out"
}
trap cleanup EXIT

rev=$(git -C "$top" rev-parse --short "$base")
git -C "$top" worktree add --detach "$wt" "$rev" >/dev/null 2>&1
make -s -C "$wt" build/tests/bench/bench_virtq >/dev/null
old=$wt/build/tests/bench/bench_virtq

for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then order="new old"; else order="old new"; fi
	for which in $order; do
		bin=$new
		[ "$which" = old ] && bin=$old
		"$bin" "$frames" 256 1 > "$out/$which.$r"
	done
done

# Rows of the first table: "<mode> <batch1> <batch8> <batch32> <batch256>".
table() {
	awk '/^Mpps \(median/ { on = 1; next }
	     on && /^packed\/split/ { exit }
	     on && NF == 5 { print }' "$1"
}

for r in $(seq 1 "$rounds"); do
	paste <(table "$out/new.$r") <(table "$out/old.$r") | sed "s/^/$r /"
done | awk -v rev="$rev" -v rounds="$rounds" '
{
	mode = $2
	if (!(mode in seen)) { seen[mode] = 1; order[n++] = mode }
	for (b = 0; b < 4; b++) {
		nv = $(3 + b); ov = $(8 + b); k = mode SUBSEP b
		if (nv > bestn[k]) bestn[k] = nv
		if (ov > besto[k]) besto[k] = ov
		q = ov > 0 ? nv / ov : 0
		if (!(k in lo) || q < lo[k]) lo[k] = q
		if (!(k in hi) || q > hi[k]) hi[k] = q
	}
}
END {
	printf "bench-virtq: this tree against %s, best of %d rounds, Mpps (median round trip)\n", rev, rounds
	printf "%-16s %28s %28s %28s %28s\n", "", "batch 1", "batch 8", "batch 32", "batch 256"
	worst = 99
	for (i = 0; i < n; i++) {
		m = order[i]
		printf "%-16s", m
		for (b = 0; b < 4; b++) {
			k = m SUBSEP b; q = bestn[k] / besto[k]
			if (q < worst) worst = q
			printf "  %5.1f/%5.1f %5.2fx [%4.2f-%4.2f]", bestn[k], besto[k], q, lo[k], hi[k]
		}
		printf "\n"
	}
	printf "columns: new/old Mpps, ratio of the bests [range of per-round ratios]\n"
	verdict = worst >= 0.97 ? "the identity view costs nothing measurable" : "slower than the base"
	printf "worst ratio %.2f: %s\n", worst, verdict
}'
uptime | sed 's/^/load while measuring: /'
