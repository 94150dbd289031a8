#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rdma_stream as a test (make test): short streams through the NICs, the
# hub and the RDMA devices with their threads, in one process and in two,
# polling and waiting, at three path MTUs. Each run checks B's MR bytes and
# B's packet count itself and fails otherwise; no timing is judged here.

set -uo pipefail

stream=${VLAB_BUILD_DIR:-build}/tests/bench/rdma_stream
n=0
fails=0

# run NAME WANT_STATUS ARGS...
run()
{
	local name=$1 want=$2 got=0 out

	shift 2
	n=$((n + 1))
	out=$("$stream" "$@" 2>&1) || got=$?
	if [ "$got" -eq "$want" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (status $got, want $want)"
		sed 's/^/    # /' <<< "$out"
		fails=$((fails + 1))
	fi
}

if [ ! -x "$stream" ]; then
	echo "1..0 # SKIP $stream missing (make $stream)"
	exit 0
fi

run "polling, one process" 0 -s 16
run "polling, two processes" 0 -s 16 -p
run "waiting, 128 out, two processes" 0 -s 16 -w -n 128 -p
run "waiting, 2 out, one process" 0 -s 4 -w -n 2
run "MTU 4096, 100000-byte WRITEs, two processes" 0 -s 16 -m 4096 -l 100000 -p
run "MTU 256, 4097-byte WRITEs, waiting, two processes" 0 -s 2 -m 256 -l 4097 -w -n 16 -p
run "one 1 MiB WRITE, MTU 2048" 0 -s 1 -m 2048 -l 1048576
run "refused: path MTU 1000" 1 -s 1 -m 1000
run "refused: waiting with an odd count out" 1 -s 1 -w -n 3
run "refused: a WRITE longer than the MR" 2 -l 1048577
echo "1..$n"
echo "# test-rdma-stream: $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
