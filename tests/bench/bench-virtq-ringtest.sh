#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-virtq-ringtest.sh BENCH_VIRTQ [ROUNDS]: vlab's ring code beside the
# Linux kernel's own ring benchmark (tools/virtio/ringtest, from the
# linux-source package the guest kernel is built from), on the same two
# CPUs in the same run: an outside anchor for the ring layouts.
#
# ringtest streams buffers between a "guest" thread (CPU 0) and a "host"
# thread (CPU 1) with the ring full of outstanding buffers and no payload;
# the closest vlab cell is bench_virtq's batch 256 on a 256-entry ring,
# wall clock (64-byte frames with a virtio-net header through the memory
# view). Layouts: ringtest's virtio_ring_0_9 is the split ring; its `ring`
# is the descriptor-ring design the packed ring grew from. Each round runs
# all three once; best Mpps of ROUNDS [min-max], ratio vlab/ringtest of the
# bests with the range of the per-round ratios.
set -euo pipefail

bench=$1
rounds=${2:-5}
cycles=${RINGTEST_CYCLES:-20000000}
top=$(cd "$(dirname "$0")/../.." && pwd)
src=$top/build/guest/linux-src/tools/virtio/ringtest
rt=$top/build/ringtest
out=$(mktemp -d /tmp/vlab-ringtest.XXXXXX)
trap 'rm -rf "$out"' EXIT

if [ ! -f "$src/main.c" ]; then
	echo "bench-virtq-ringtest: unpacking the linux-source package (make -C guest)"
	make -s -C "$top/guest" "$top/build/guest/stamps/src" >/dev/null
fi
# Built from a copy: nothing is written into the kernel tree.
mkdir -p "$rt"
for t in virtio_ring_0_9 ring; do
	if [ ! -x "$rt/$t" ] || [ "$src/$t.c" -nt "$rt/$t" ]; then
		cp "$src/main.c" "$src/main.h" "$src/$t.c" "$rt/"
		gcc -O2 -pthread -o "$rt/$t" "$rt/main.c" "$rt/$t.c"
	fi
done

# ringtest prints nothing: its rate is the cycles over the wall time.
ringtest_mpps() {
	local t0 t1

	t0=$(date +%s%N)
	"$rt/$1" --host-affinity 1 --guest-affinity 0 --run-cycles "$cycles" >/dev/null
	t1=$(date +%s%N)
	awk -v c="$cycles" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f\n", c / (ns / 1000.0) }'
}

# bench_virtq's wall-clock table, batch 256: "<split> <packed>".
vlab_mpps() {
	"$bench" 1000000 256 1 | awk '/^Mpps \(wall clock/ { on = 1; next }
		on && $1 == "split" { s = $5 } on && $1 == "packed" { p = $5 }
		END { print s, p }'
}

for r in $(seq 1 "$rounds"); do
	read -r split packed < <(vlab_mpps)
	echo "$r $split $packed $(ringtest_mpps virtio_ring_0_9) $(ringtest_mpps ring)"
done > "$out/rounds"

echo "bench-virtq vs Linux ringtest ($cycles cycles, ring 256, guest CPU 0, host CPU 1)," \
	"best of $rounds [min-max]"
awk '
function cell(i) { return sprintf("%6.2f [%.2f-%.2f]", best[i], lo[i], hi[i]) }
{
	for (i = 2; i <= 5; i++) {
		if (NR == 1 || $i > best[i]) best[i] = $i
		if (NR == 1 || $i < lo[i]) lo[i] = $i
		if (NR == 1 || $i > hi[i]) hi[i] = $i
	}
	for (k = 0; k < 2; k++) {
		q = $(4 + k) > 0 ? $(2 + k) / $(4 + k) : 0
		if (NR == 1 || q < qlo[k]) qlo[k] = q
		if (NR == 1 || q > qhi[k]) qhi[k] = q
	}
}
END {
	printf "%-8s %-24s %-34s %s\n", "layout", "vlab Mpps (batch 256)", \
		"ringtest Mpps", "vlab/ringtest"
	printf "%-8s %-24s %-34s %.2fx [%.2f-%.2f]\n", "split", cell(2), \
		cell(4) " (virtio_ring_0_9)", best[2] / best[4], qlo[0], qhi[0]
	printf "%-8s %-24s %-34s %.2fx [%.2f-%.2f]\n", "packed", cell(3), \
		cell(5) " (ring)", best[3] / best[5], qlo[1], qhi[1]
}' "$out/rounds"
