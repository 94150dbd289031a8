# SPDX-License-Identifier: GPL-2.0
#
# What the shell benchmarks share; sourced with NAME set (the bench's name,
# for messages and the scratch folder):
#   T           a scratch folder, removed at exit unless BENCH_KEEP is set
#   PIDS        processes to kill at exit (append what you start)
#   now, elapsed T0, fcmp "A > B" (bc's verdict as an exit status),
#   wait_for FILE TEXT TIMEOUT PID, bench_kvm, bench_files HINT FILE...,
#   bench_need HINT FILE...

T=$(mktemp -d "/tmp/vlab-$NAME-XXXXXX")
PIDS=()
bench_cleanup() {
	local p

	# Some have ended already; under set -e a failed kill must not be the bench's status.
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "$NAME: logs kept in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
fcmp() { [ "$(echo "$1" | bc)" = 1 ]; }

# wait_for FILE TEXT TIMEOUT PID: until FILE has TEXT; 1 if PID ended or time ran out.
wait_for() {
	local file=$1 text=$2 timeout=$3 pid=$4 t0

	t0=$(now)
	until grep -q -- "$text" "$file" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null || return 1
		fcmp "$(elapsed "$t0") > $timeout" && return 1
		sleep 0.05
	done
}

# bench_kvm: whether /dev/kvm is usable here.
bench_kvm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ]
}

# bench_files HINT FILE...: end the bench with 2 if a FILE is missing (HINT says how to build it).
bench_files() {
	local hint=$1 f

	shift
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "$NAME: $f missing ($hint)" >&2
			exit 2
		fi
	done
}

# bench_need HINT FILE...: end the bench with SKIP (0) without a usable
# /dev/kvm, then as bench_files does.
bench_need() {
	if ! bench_kvm; then
		echo "$NAME: SKIP: /dev/kvm is not usable here"
		exit 0
	fi
	bench_files "$@"
}
