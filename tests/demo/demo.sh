#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: two guests on a hub exchanging frames (net_pmd ping and
# pong); the pinging one is live-migrated back and forth between two vlab
# processes ("left" and "right", a socket each) while `vlab dash` shows it
# and follows it both ways. Ctrl-C or q in the window ends it.
#
#   DEMO_HOPS=N          migrations (default 10)
#   DEMO_SCREENSHOT=F    no window: one off-screen frame of the first hop,
#                        mid-migration, written to F (BMP)
set -euo pipefail
build=${BUILD:-build}
vlab=$build/vlab
elf=$build/payloads/net_pmd.elf
hops=${DEMO_HOPS:-10}
dir=$(mktemp -d /tmp/vlab-demo-XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "${DEMO_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

[ -x "$build/vlab-dash" ] || { "$vlab" dash --help; exit 1; }

# The guest that moves: 64 MiB, a frame in flight all the time.
mover_net="hub=$dir/hub,mac=52:54:00:00:00:02"
mover=(--mem 64M --net "$mover_net")

"$vlab" run --kernel "$elf" --net "hub=$dir/hub,mac=52:54:00:00:00:01" --console none \
	--control "$dir/peer.sock" --cmdline "role=pong count=1048576" \
	>"$dir/peer.out" 2>&1 &
pids+=($!)
"$vlab" run --kernel "$elf" "${mover[@]}" --console "file:$dir/left.con" \
	--control "$dir/left.sock" \
	--cmdline "role=ping peer=52:54:00:00:00:01 count=1048576 window=1 timeout=100000" \
	>"$dir/left.out" 2>&1 &
pids+=($!)

# Up when its socket answers.
wait_sock() {
	for _ in $(seq 600); do
		"$vlab" ctl --timeout 2 "$1" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "demo: $1 does not answer" >&2
	exit 1
}
wait_sock "$dir/left.sock"
wait_sock "$dir/peer.sock"

if [ -z "${DEMO_SCREENSHOT:-}" ]; then
	"$vlab" dash "$dir/left.sock" --follow "$dir/right.sock" &
	dash=$!
	pids+=($dash)
fi

from=left
to=right
for hop in $(seq "$hops"); do
	[ -n "${dash:-}" ] && ! kill -0 "$dash" 2>/dev/null && break
	rm -f "$dir/mig.sock"
	"$vlab" run --incoming "unix:$dir/mig.sock" "${mover[@]}" --console "file:$dir/$to.con" \
		--control "$dir/$to.sock" >"$dir/$to.out" 2>&1 &
	pids+=($!)
	until grep -qs "waiting for a migration stream" "$dir/$to.out"; do sleep 0.05; done
	sleep 0.2
	# Capped so that the rounds can be watched.
	"$vlab" ctl "$dir/$from.sock" migrate "uri=unix:$dir/mig.sock" max_bandwidth=4000000 \
		>/dev/null
	if [ -n "${DEMO_SCREENSHOT:-}" ]; then
		sleep 1.5
		"$vlab" dash "$dir/$from.sock" --screenshot "$DEMO_SCREENSHOT"
		exit 0
	fi
	while "$vlab" ctl --timeout 2 "$dir/$from.sock" status 2>/dev/null | grep -q "state: active"; do
		sleep 0.2
	done
	echo "demo: hop $hop: $from -> $to"
	wait_sock "$dir/$to.sock"
	sleep 3
	tmp=$from
	from=$to
	to=$tmp
done
[ -n "${dash:-}" ] && wait "$dash" || true
