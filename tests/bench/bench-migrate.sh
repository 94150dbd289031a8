#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live migration over a unix socket, vlab against QEMU (-M microvm,
# -incoming unix:), with the same guest: the dirty payload, which first
# fills all of RAM once ("dirty: filled"), then dirties pages round-robin
# at 100 or 1000 MB/s, or nothing (idle=1), and at the end checks every
# page. For each guest size and load: total time, downtime, MB sent,
# rounds, and throughput (MB sent / total time) against the copy limit of
# a unix stream socket measured in the same run (unix_copy): on the idle
# host, with one more process spinning, and beside a spinning vlab guest.
# The payload column says whether the guest finished with every page right
# on the destination.
#
#   make bench-migrate [BENCH_SIZES="256M 1G 4G"] [BENCH_LOADS="idle 100 1000"]
#                      [BENCH_QEMU=0] [BENCH_REPEAT=3] [BENCH_QEMU_REPEAT=1]
#
# Single runs vary by +-25% on a shared host, so each vlab cell is run
# BENCH_REPEAT times (fresh processes each time) and the row is the best run
# by throughput, with the spread of all runs; QEMU cells are slow and run
# BENCH_QEMU_REPEAT times.
#
# Both VMMs migrate with a 50 ms downtime limit and no bandwidth cap.
# QEMU has no round limit: a migration that has not converged before the
# payload's end is cancelled and reported as such (vlab stops pre-copy
# after 30 rounds and pays for it in downtime).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

B=${VLAB_BUILD_DIR:-build}
VLAB=$B/vlab
ELF=$B/payloads/dirty.elf
COPY=$B/tests/bench/unix_copy
SIZES=${BENCH_SIZES:-256M 1G 4G}
LOADS=${BENCH_LOADS:-idle 100 1000}
QEMU=${BENCH_QEMU:-1}
REPEAT=${BENCH_REPEAT:-3}
QEMU_REPEAT=${BENCH_QEMU_REPEAT:-1}
DOWNTIME_MS=50
# QEMU 7.2 on kvm_pvm: "-cpu host" dies on MSR 0x10a (ARCH_CAPABILITIES).
QEMU_CPU=host,-arch-capabilities

for n in "$REPEAT" "$QEMU_REPEAT"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		echo "bench-migrate: BENCH_REPEAT and BENCH_QEMU_REPEAT must be >= 1" >&2
		exit 2
	fi
done
NAME=bench-migrate
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
bench_need "make all payloads, or make bench-migrate" "$VLAB" "$ELF" "$COPY"

# stop PID...: kill and reap quietly (no "Killed" job notices).
stop() {
	kill -9 "$@" 2>/dev/null
	wait "$@" 2>/dev/null
} 2>/dev/null

# The payload's command line for VMM, SIZE, LOAD, and how long it dirties
# after the fill (secs=): long enough for the migration, short enough for
# the time budget. QEMU moves RAM at a third of vlab's rate here, so its 1G
# and 4G guests get more time.
payload_args() {
	local vmm=$1 size=$2 load=$3 secs

	case "$vmm:$size:$load" in
	qemu:4G:idle)	secs=34 ;;
	qemu:4G:100)	secs=26 ;;
	qemu:1G:idle)	secs=12 ;;
	qemu:1G:100)	secs=14 ;;
	*:4G:idle)	secs=14 ;;
	*:4G:100)	secs=16 ;;
	*:4G:*)		secs=30 ;;
	*:1G:idle)	secs=8 ;;
	*:1G:100)	secs=10 ;;
	*:1G:*)		secs=24 ;;
	*:idle)		secs=4 ;;
	*:100)		secs=5 ;;
	*)		secs=12 ;;
	esac
	if [ "$load" = idle ]; then
		echo "idle=1 secs=$secs"
	else
		echo "fill=1 rate=$load secs=$secs"
	fi
}

secs_of() { sed -E 's/.*secs=([0-9]+).*/\1/' <<<"$1"; }

# result TOTAL DOWNTIME MB ROUNDS PAYLOAD-VERDICT: one run's outcome in R;
# "- - - - MESSAGE" when it gave no numbers.
R=()
result() { R=("$@"); }

# pct MBPS LIMIT: MBPS in % of LIMIT, "-" without a limit.
pct() {
	if [ "${2:-0}" -gt 0 ]; then
		echo "scale=0; 100 * $1 / $2" | bc
	else
		echo -
	fi
}

# pcts MBPS: "%COPY %BUSY %GUEST", of the three limits (each the larger of
# its start and end values: the host's load drifts, and the larger is the
# harder yardstick).
pcts() { echo "$(pct "$1" "$LIMIT") $(pct "$1" "$LIMIT_BUSY") $(pct "$1" "$LIMIT_GUEST")"; }

# A row's fields, '|'-separated, formatted by row() once the limits are
# known: SIZE LOAD VMM TOTAL DOWNTIME MB ROUNDS PAYLOAD-VERDICT SPREAD, or
# SIZE LOAD VMM - - - - MESSAGE.
ROWDATA=()
ROWS=()
# vlab's best run per cell: "SIZE LOAD DOWNTIME MBPS"; every vlab run: the
# same in RUNS, with "x" for the numbers of a run that failed (it counts,
# as a miss).
RESULTS=()
RUNS=()
row_later() {
	local IFS='|'

	ROWDATA+=("$*")
}
row() {
	local size=$1 load=$2 vmm=$3 total=$4 down=$5 mb=$6 rounds=$7 check=$8 spread=${9:-} \
		mbps p c b g

	if [ "$total" = - ]; then
		ROWS+=("$(printf '%-5s %-6s %-5s %s' "$size" "$load" "$vmm" "$check")")
		return
	fi
	mbps=$(echo "scale=1; $mb * 1000 / $total" | bc)
	p=$(pcts "$mbps")
	read -r c b g <<<"$p"
	[ "$c" = - ] || c=$c%
	[ "$b" = - ] || b=$b%
	[ "$g" = - ] || g=$g%
	ROWS+=("$(printf '%-5s %-6s %-5s %9.0f %9.1f %9.1f %6s %7.0f %-11s %6s %6s %6s %s' \
		"$size" "$load" "$vmm" "$total" "$down" "$mb" "$rounds" "$mbps" "$spread" \
		"$c" "$b" "$g" "$check")")
	[ "$vmm" = vlab ] && RESULTS+=("$size $load $down $mbps")
}

# cell VMM SIZE LOAD N: N runs of bench_VMM, each with fresh processes and
# its own log directory; the row is the best run by throughput (a run whose
# payload check failed only if no run passed it), with the spread of all
# runs that gave numbers. The payload column says "ok" only if every run
# passed; else it names the first run that did not.
cell() {
	local vmm=$1 size=$2 load=$3 n=$4 i mbps ok bok=-1 bmbps=0 lo='' hi='' spread=- \
		fail='' failrun=0 nfail=0 got=0 check
	local -a bestr=()

	for ((i = 1; i <= n; i++)); do
		[ "$n" -gt 1 ] && echo "bench-migrate:   $vmm, run $i of $n" >&2
		"bench_$vmm" "$size" "$load" "$T/$vmm-$size-$load-$i"
		if [ "${R[4]}" != ok ]; then
			nfail=$((nfail + 1))
			if [ -z "$fail" ]; then
				fail=${R[4]}
				failrun=$i
			fi
			[ "$vmm" = vlab ] && RUNS+=("$size $load x x")
		fi
		[ "${R[0]}" = - ] && continue
		got=$((got + 1))
		mbps=$(echo "scale=1; ${R[2]} * 1000 / ${R[0]}" | bc)
		if [ -z "$lo" ] || fcmp "$mbps < $lo"; then lo=$mbps; fi
		if [ -z "$hi" ] || fcmp "$mbps > $hi"; then hi=$mbps; fi
		[ "${R[4]}" = ok ] && ok=1 || ok=0
		if [ "$ok" -gt "$bok" ] || { [ "$ok" = "$bok" ] && fcmp "$mbps > $bmbps"; }; then
			bestr=("${R[@]}")
			bok=$ok
			bmbps=$mbps
		fi
		[ "$vmm" = vlab ] && [ "$ok" = 1 ] && RUNS+=("$size $load ${R[1]} $mbps")
	done
	if [ "$nfail" = 0 ]; then
		check=ok
	elif [ "$n" = 1 ]; then
		check=$fail
	else
		check="run $failrun of $n: $fail"
		[ "$nfail" -gt 1 ] && check="$check ($nfail of $n runs failed)"
	fi
	if [ "$got" = 0 ]; then
		row_later "$size" "$load" "$vmm" - - - - "$check"
		return
	fi
	[ "$got" -gt 1 ] && spread=$(printf '%.0f..%.0f' "$lo" "$hi")
	row_later "$size" "$load" "$vmm" "${bestr[0]}" "${bestr[1]}" "${bestr[2]}" "${bestr[3]}" \
		"$check" "$spread"
}

# dest_result DIR PID SECS TOTAL DOWNTIME MB ROUNDS: once the destination
# PID has ended (at most SECS + 30 s), the run's outcome with its payload
# verdict, in R.
dest_result() {
	local d=$1 check

	wait_exit "$2" "$(($3 + 30))"
	if grep -q "payload: dirty ok" "$d/dst.con"; then
		check=ok
	else
		check="BAD: $(grep -m1 "bad pages\|FAIL" "$d/dst.con")"
	fi
	result "$4" "$5" "$6" "$7" "$check"
}

# ---- vlab ----

# bench_vlab SIZE LOAD DIR: one migration, its outcome in R (see result).
bench_vlab() {
	local size=$1 load=$2 d=$3 args secs src dst t0 line total down mb rounds rc

	args=$(payload_args vlab "$size" "$load")
	secs=$(secs_of "$args")
	mkdir -p "$d"
	# The destination first: its RAM is faulted in before it listens, and
	# that must not eat into the time the payload leaves for the migration.
	"$VLAB" run --incoming "unix:$d/m.sock" --mem "$size" --console "file:$d/dst.con" \
		>"$d/dst.out" 2>&1 &
	dst=$!
	PIDS+=("$dst")
	if ! wait_for "$d/dst.out" "waiting for a migration stream" 120 "$dst"; then
		result - - - - "destination: $(tail -1 "$d/dst.out" | cut -c1-80)"
		stop "$dst"
		return
	fi
	"$VLAB" run --kernel "$ELF" --mem "$size" --cmdline "$args" --console "file:$d/src.con" \
		--control "$d/src.sock" --downtime-ms "$DOWNTIME_MS" >"$d/src.out" 2>&1 &
	src=$!
	PIDS+=("$src")
	if ! wait_for "$d/src.con" "dirty: filled" 120 "$src"; then
		result - - - - "source: $(tail -1 "$d/src.out" | cut -c1-80)"
		stop "$src" "$dst"
		return
	fi
	sleep 1
	t0=$(now)
	until "$VLAB" ctl "$d/src.sock" migrate "uri=unix:$d/m.sock" >"$d/ctl.out" 2>&1; do
		if ! grep -q "Connection refused\|No such file" "$d/ctl.out" ||
		   fcmp "$(elapsed "$t0") > 5"; then
			result - - - - "migrate: $(head -1 "$d/ctl.out")"
			stop "$src" "$dst"
			return
		fi
		sleep 0.01
	done
	# The source ends at the switch-over; give up shortly before the payload's end.
	wait_exit "$src" "$((secs - 2))"
	rc=$?
	if [ $rc = 255 ] || ! line=$(grep -m1 "migrate: done in" "$d/src.out"); then
		result - - - - "not done in $((secs - 2)) s: $(grep "migrate:" "$d/src.out" | tail -1 | cut -c1-90)"
		stop "$src" "$dst"
		return
	fi
	read -r total down mb rounds < <(sed -E \
		's/.*done in ([0-9.]+) ms, downtime ([0-9.]+) ms, ([0-9.]+) MB in ([0-9]+) round.*/\1 \2 \3 \4/' \
		<<<"$line")
	dest_result "$d" "$dst" "$secs" "$total" "$down" "$mb" "$rounds"
}

# ---- QEMU ----

# QMP client: python3 -c "$QMP_PY" QMP_SOCK URI LIMIT_S DOWNTIME_MS sets the
# parameters, migrates and polls; prints "done TOTAL_MS DOWNTIME_MS MB SYNCS",
# "timeout SYNCS MB" (cancelled after LIMIT_S) or "error MESSAGE".
QMP_PY='
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
def cmd(name, args={}):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
cmd("qmp_capabilities")
uri, limit, downtime = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
r = cmd("migrate-set-parameters", {"max-bandwidth": 100 * 1000 ** 3,
                                   "downtime-limit": downtime})
if "error" in r:
    print("error", r["error"]["desc"]); sys.exit(1)
r = cmd("migrate", {"uri": uri})
if "error" in r:
    print("error", r["error"]["desc"]); sys.exit(1)
t0 = time.time()
while True:
    m = cmd("query-migrate")["return"]
    if m.get("status") in ("completed", "failed", "cancelled"):
        break
    if time.time() - t0 > limit:
        ram = m.get("ram", {})
        cmd("migrate_cancel")
        print("timeout", ram.get("dirty-sync-count", 0), ram.get("transferred", 0) / 1e6)
        sys.exit(0)
    time.sleep(0.02)
if m["status"] != "completed":
    print("error", m.get("error-desc", m["status"])); sys.exit(1)
ram = m["ram"]
print("done", m["total-time"], m["downtime"], ram["transferred"] / 1e6, ram["dirty-sync-count"])
cmd("quit")
'

# bench_qemu SIZE LOAD DIR: the same for QEMU.
bench_qemu() {
	local size=$1 load=$2 d=$3 args secs src dst q res what total down mb rounds

	args=$(payload_args qemu "$size" "$load")
	secs=$(secs_of "$args")
	mkdir -p "$d"
	# shellcheck disable=SC2054 # -cpu host,-arch-capabilities is one word
	q=(qemu-system-x86_64 -M microvm -enable-kvm -cpu "$QEMU_CPU" -m "$size" -smp 1
	   -nodefaults -no-user-config -display none
	   -device isa-debug-exit,iobase=0x501,iosize=4 -kernel "$ELF" -append "$args")
	"${q[@]}" -serial "file:$d/dst.con" -incoming "unix:$d/m.sock" >"$d/dst.out" 2>&1 &
	dst=$!
	PIDS+=("$dst")
	"${q[@]}" -serial "file:$d/src.con" -qmp "unix:$d/qmp.sock,server=on,wait=off" \
		>"$d/src.out" 2>&1 &
	src=$!
	PIDS+=("$src")
	if ! wait_for "$d/src.con" "dirty: filled" 120 "$src"; then
		result - - - - "did not start: $(head -c 300 "$d/src.out" | tr '\n' ' ' | cut -c1-90)"
		stop "$src" "$dst"
		return
	fi
	if ! kill -0 "$dst" 2>/dev/null; then
		result - - - - "destination: $(head -1 "$d/dst.out" | cut -c1-90)"
		stop "$src"
		return
	fi
	sleep 1
	res=$(python3 -c "$QMP_PY" "$d/qmp.sock" "unix:$d/m.sock" "$((secs - 2))" \
		"$DOWNTIME_MS" 2>&1 | tail -1)
	read -r what total down mb rounds <<<"$res"
	case "$what" in
	done)
		;;
	timeout)
		result - - - - "not converged in $((secs - 2)) s: $total dirty syncs, $(printf %.0f "$down") MB sent (cancelled)"
		stop "$src" "$dst"
		return
		;;
	*)
		# The destination usually says more than the source's QMP.
		res="$res$(grep -m1 -i "error\|fail" "$d/dst.out" | sed 's/^/; destination: /')"
		result - - - - "failed: $(cut -c1-140 <<<"$res")"
		stop "$src" "$dst"
		return
		;;
	esac
	wait_exit "$src" 10 >/dev/null
	dest_result "$d" "$dst" "$secs" "$total" "$down" "$mb" "$rounds"
}

# ---- run ----

START=$(now)
HZ=$(getconf CLK_TCK)
# The copy limit: the best of three, as the host may be busy with other
# work; and again with one more process spinning, as the guest's vCPU does
# during its migration (on a 2-CPU host that matters).
copy_limit() {
	local best=0 i v

	for i in 1 2 3; do
		v=$("$COPY" -q -s 2048 "$@")
		[ "$v" -gt "$best" ] && best=$v
	done
	echo "$best"
}

# cpu_ticks PID: the CPU time PID has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# guest_limit VAR: the copy limit beside a real vlab guest whose vCPU spins
# (the dirty payload, idle), the closest to the CPUs a migration gets: a
# spinner (-b 1) is not a KVM vCPU with its exits and host threads. 0 if
# the guest did not start.
guest_limit() {
	local var=$1 g t0 v=0

	"$VLAB" run --kernel "$ELF" --mem 256M --cmdline "idle=1 secs=60" --console none \
		>"$T/guest.out" 2>&1 &
	g=$!
	PIDS+=("$g")
	# With --console none it says nothing: it has started once it has had
	# a second of CPU, well past its setup and the fill of its RAM.
	t0=$(now)
	until [ "$(cpu_ticks "$g")" -ge "$HZ" ] 2>/dev/null; do
		if ! kill -0 "$g" 2>/dev/null || fcmp "$(elapsed "$t0") > 30"; then
			echo "bench-migrate: the guest beside the copy did not start: $(tail -1 "$T/guest.out")" >&2
			break
		fi
		sleep 0.1
	done
	if kill -0 "$g" 2>/dev/null; then
		v=$(copy_limit)
		# secs=60 outlasts the copies; if it ended early, the number is not one.
		if ! kill -0 "$g" 2>/dev/null; then
			echo "bench-migrate: the guest beside the copy ended early: $(tail -1 "$T/guest.out")" >&2
			v=0
		fi
	fi
	stop "$g"
	printf -v "$var" %s "$v"
}

LIMIT=$(copy_limit)
LIMIT_BUSY=$(copy_limit -b 1)
guest_limit LIMIT_GUEST
echo "bench-migrate: unix socket copy limit $LIMIT MB/s, $LIMIT_BUSY MB/s with a busy CPU, $LIMIT_GUEST MB/s beside a vlab guest"
QEMU_VER=
if [ "$QEMU" = 1 ] && command -v qemu-system-x86_64 >/dev/null; then
	QEMU_VER=$(qemu-system-x86_64 --version | head -1 | sed 's/QEMU emulator version //')
else
	echo "bench-migrate: QEMU not run (BENCH_QEMU=0 or not installed)"
fi
for size in $SIZES; do
	for load in $LOADS; do
		echo "bench-migrate: $size guest, dirty ${load}$([ "$load" = idle ] || echo " MB/s") ..." >&2
		cell vlab "$size" "$load" "$REPEAT"
		[ -n "$QEMU_VER" ] && cell qemu "$size" "$load" "$QEMU_REPEAT"
	done
done
# The limits again at the end: the host's load may have changed meanwhile.
LIMIT2=$(copy_limit)
LIMIT_BUSY2=$(copy_limit -b 1)
guest_limit LIMIT_GUEST2
LIMIT1=$LIMIT LIMIT_BUSY1=$LIMIT_BUSY LIMIT_GUEST1=$LIMIT_GUEST
max() { [ "$1" -ge "$2" ] && echo "$1" || echo "$2"; }
LIMIT=$(max "$LIMIT1" "$LIMIT2")
LIMIT_BUSY=$(max "$LIMIT_BUSY1" "$LIMIT_BUSY2")
# shellcheck disable=SC2153 # set by guest_limit
LIMIT_GUEST=$(max "$LIMIT_GUEST1" "$LIMIT_GUEST2")
for r in "${ROWDATA[@]}"; do
	IFS='|' read -r -a f <<<"$r"
	row "${f[@]}"
done

# runs N: "N run(s)".
runs() { [ "$1" = 1 ] && echo "1 run" || echo "best of $1 runs"; }

echo
echo "Live migration over a unix socket: vlab $("$VLAB" --version | sed 's/vlab //') against QEMU ${QEMU_VER:-(not run)} -M microvm"
echo "guest: dirty payload, RAM filled once, then dirtied round-robin at the load (MB/s)"
echo "downtime limit $DOWNTIME_MS ms, no bandwidth cap; $(nproc) host CPUs"
echo "unix socket copy limit (unix_copy, best of 3 x 2 GiB, 256 KiB writes): $LIMIT1 MB/s at the start, $LIMIT2 at the end;"
echo "  with one more CPU-bound process (as the guest's vCPU): $LIMIT_BUSY1 MB/s at the start, $LIMIT_BUSY2 at the end;"
echo "  beside a running vlab guest (dirty idle=1, 256M, vCPU spinning): $LIMIT_GUEST1 MB/s at the start, $LIMIT_GUEST2 at the end"
echo "each row: vlab $(runs "$REPEAT"), QEMU $(runs "$QEMU_REPEAT"), by MB/s, fresh processes each run;"
echo "  the numbers are those of the best run; spread: min..max MB/s of all runs of the row"
echo "MB/s = MB sent / total time; %copy, %busy, %guest: of the three copy limits, each the larger"
echo "  of its start and end values"
echo "payload: every page right when the guest finished on the destination, in every run"
echo
printf '%-5s %-6s %-5s %9s %9s %9s %6s %7s %-11s %6s %6s %6s %s\n' guest load vmm "total ms" \
	"down ms" "MB sent" rounds "MB/s" spread "%copy" "%busy" "%guest" payload
printf '%s\n' "---------------------------------------------------------------------------------------------------------------"
for r in "${ROWS[@]}"; do
	echo "$r"
done

# tally K LINE...: of the "SIZE LOAD DOWNTIME MBPS" lines, how many reach
# 80% of the K-th limit (1..3, as in pcts): "MET COUNT LOW HIGH" ("-": no
# such limit, "x": a failed run).
tally() {
	local k=$1 r met=0 n=0 lo=- hi=- v
	local -a f p
	shift

	for r; do
		read -r -a f <<<"$r"
		v=x
		if [ "${f[3]}" != x ]; then
			read -r -a p <<<"$(pcts "${f[3]}")"
			v=${p[$((k - 1))]}
		fi
		[ "$v" = - ] && continue
		n=$((n + 1))
		[ "$v" = x ] && continue
		[ "$v" -ge 80 ] && met=$((met + 1))
		if [ "$lo" = - ] || [ "$v" -lt "$lo" ]; then lo=$v; fi
		if [ "$hi" = - ] || [ "$v" -gt "$hi" ]; then hi=$v; fi
	done
	echo "$met $n $lo $hi"
}

# downs SIZE LOAD MAX: "N of M" of the runs of that row under MAX ms down.
downs() {
	local r size load down n=0 m=0

	for r in "${RUNS[@]}"; do
		read -r size load down _ <<<"$r"
		[ "$size:$load" = "$1:$2" ] || continue
		m=$((m + 1))
		[ "$down" != x ] && fcmp "$down < $3" && n=$((n + 1))
	done
	echo "$n of $m"
}

# The targets of the migration work (issue 4), for vlab: the best run of
# each row, and how many of all the runs made it.
echo
for r in "${RESULTS[@]}"; do
	read -r size load down _ <<<"$r"
	if [ "$size:$load" = 1G:idle ]; then
		fcmp "$down < 30" && v=met || v=MISSED
		echo "target downtime < 30 ms, idle 1G: $down ms: $v (under 30 ms in $(downs "$size" "$load" 30) runs)"
	fi
	if [ "$load" = 100 ]; then
		fcmp "$down < 100" && v=met || v=MISSED
		echo "target downtime < 100 ms at 100 MB/s, $size: $down ms: $v (under 100 ms in $(downs "$size" "$load" 100) runs)"
	fi
done
if [ ${#RESULTS[@]} -gt 0 ]; then
	echo "target throughput >= 80% of the copy limit, best run of each row (and of all runs):"
	k=1
	for what in "the idle limit" "the limit with a busy CPU" "the limit beside a spinning guest"; do
		read -r met n lo hi <<<"$(tally "$k" "${RESULTS[@]}")"
		read -r rmet rn _ <<<"$(tally "$k" "${RUNS[@]}")"
		if [ "$n" = 0 ]; then
			printf '  %-43s not measured\n' "against $what:"
		else
			printf '  %-43s met in %s of %s rows (%s%%..%s%%), %s of %s runs\n' \
				"against $what:" "$met" "$n" "$lo" "$hi" "$rmet" "$rn"
		fi
		k=$((k + 1))
	done
fi
echo
echo "bench-migrate: $(printf %.0f "$(elapsed "$START")") s in all"
