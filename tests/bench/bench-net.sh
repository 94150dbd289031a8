#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-net.sh: the same CPL3 PMD payload (guest/payload/net_pmd.c, one
# virtio-net function, split rings of 256, 64-byte frames, polled) on vlab
# and on QEMU (qemu-system-x86_64 -M pc, its userspace virtio-net), side by
# side in one run, alternating, best of BENCH_REPEAT (5) with the spread:
#
#   Mpps      role=blast: BENCH_N (1000000) frames to a sink, as fast as the
#             device takes them; notifications suppressed (the driver rings
#             only when the device asks). Sinks: vlab --net null; QEMU's
#             slirp (-netdev user), which drops a frame of an unknown
#             ethertype after a look at its header.
#   RTT       role=ping: BENCH_RTT_N (20000) round trips of one frame, each
#             through a datagram socket back to the same NIC (vlab --net
#             loop: a socketpair; QEMU -netdev dgram on one unix socket
#             path, sending to itself), notifications on (a doorbell a frame).
#   exits     KVM exits to the VMM's user space per frame, from perf's
#             kvm:kvm_userspace_exit over a whole run, less a run of 1000
#             frames (boot and firmware); doorbells per frame from the
#             payload (on kvm_pvm each is an exit KVM handles itself, which
#             perf's kvm_exit does not see here).
#
# vlab runs with its default TX polling (poll-us=50) and with poll-us=0,
# which is how QEMU's virtio-net and vlab before it behave.
# Targets (issue 14): vlab >= 2x QEMU's Mpps, and >= 1 Mpps.
set -euo pipefail
NAME=bench-net
. "$(dirname "$0")/lib.sh"

top=$(git rev-parse --show-toplevel)
vlab=$top/build/vlab
elf=$top/build/payloads/net_pmd.elf
bench_need "make all payloads" "$vlab" "$elf"
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "$NAME: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2
	exit 2
fi
repeat=${BENCH_REPEAT:-5}
n=${BENCH_N:-1000000}
rtt_n=${BENCH_RTT_N:-20000}
mac=52:54:00:12:34:56
size=26		# pattern bytes: with its headers a 64-byte frame
perf_ok=0
perf stat -e kvm:kvm_userspace_exit -x, -- true >/dev/null 2>&1 && perf_ok=1

# run_vm WHO MODE COUNT OUT: one run; WHO vlab|vlab0|qemu (their own
# virtio-net) or vlab-vu|qemu-vu (vhost-user to testpmd), MODE blast|ping.
run_vm() {
	local who=$1 mode=$2 count=$3 out=$4 cmd net peer=52:54:00:00:00:99
	local -a argv perf=()

	[ "$mode" = ping ] && peer=$mac
	cmd="role=$mode peer=$peer count=$count size=$size timeout=120"
	[ $perf_ok = 1 ] && perf=(perf stat -e kvm:kvm_userspace_exit -x, -o "$out.perf" --)
	case $who in
	vlab | vlab0)
		net=null
		[ "$mode" = ping ] && net=loop
		[ "$who" = vlab0 ] && net=$net,poll-us=0
		argv=("$vlab" run --kernel "$elf" --mem 64M --net "$net,mac=$mac" --cmdline "$cmd")
		;;
	vlab-vu)
		argv=("$vlab" run --kernel "$elf" --mem 64M --mem-backend memfd
		      --net "vhost-user=$T/vu.sock,mac=$mac" --cmdline "$cmd")
		;;
	qemu-vu)
		argv=(qemu-system-x86_64 -machine pc,accel=kvm,memory-backend=mem
		      -object memory-backend-memfd,id=mem,size=64M,share=on -cpu host -m 64M
		      -nographic -no-reboot -kernel "$elf" -append "$cmd"
		      -device isa-debug-exit,iobase=0x501,iosize=4
		      -chardev "socket,id=c0,path=$T/vu.sock" -netdev vhost-user,id=n0,chardev=c0
		      -device "virtio-net-pci,disable-legacy=on,netdev=n0,mac=$mac,romfile=")
		;;
	qemu)
		rm -f "$T/qloop.sock"
		net=user,id=n0
		[ "$mode" = ping ] &&
			net=dgram,id=n0,local.type=unix,local.path=$T/qloop.sock,remote.type=unix,remote.path=$T/qloop.sock
		argv=(qemu-system-x86_64 -machine pc,accel=kvm -cpu host -m 64M -nographic
		      -no-reboot -kernel "$elf" -append "$cmd"
		      -device isa-debug-exit,iobase=0x501,iosize=4 -netdev "$net"
		      -device "virtio-net-pci,disable-legacy=on,netdev=n0,mac=$mac,romfile=")
		;;
	esac
	timeout 300 "${perf[@]}" "${argv[@]}" </dev/null >"$out" 2>&1 || true
	if ! grep -q "payload: net_pmd ok" "$out"; then
		echo "$NAME: $who $mode failed; its console:" >&2
		tail -5 "$out" >&2
		exit 1
	fi
}

exits_of() { [ -f "$1.perf" ] && awk -F, '/kvm_userspace_exit/ { print $1 }' "$1.perf" || echo 0; }
mpps_of() { sed -n 's/.*blast: .* us: \([0-9]*\) frames\/s.*/\1/p' "$1" | awk '{ printf "%.3f", $1 / 1e6 }'; }
kicks_of() { sed -n 's/.*blast: \([0-9]*\) TX kicks.*/\1/p' "$1"; }
p50_of() { sed -n 's/.*rtt us .* p50 \([0-9.]*\) .*/\1/p' "$1"; }
p99_of() { sed -n 's/.*rtt us .* p99 \([0-9.]*\) .*/\1/p' "$1"; }

whos="vlab vlab0 qemu"
echo "$NAME: $repeat rounds; blast $n frames, ping $rtt_n round trips, 64-byte frames"
echo "$NAME: $(qemu-system-x86_64 --version | head -1)"
for who in $whos; do
	run_vm "$who" blast 1000 "$T/$who.base"
done
for r in $(seq 1 "$repeat"); do
	order=$whos
	[ $((r % 2)) = 0 ] && order=$(echo "$whos" | tr ' ' '\n' | tac | tr '\n' ' ')
	for who in $order; do
		run_vm "$who" blast "$n" "$T/$who.blast.$r"
		run_vm "$who" ping "$rtt_n" "$T/$who.ping.$r"
		printf '  round %d %-5s %s Mpps, rtt p50 %s us\n' "$r" "$who" \
			"$(mpps_of "$T/$who.blast.$r")" "$(p50_of "$T/$who.ping.$r")"
	done
done

# testpmd MODE: DPDK's testpmd as the vhost-user backend on $T/vu.sock,
# forwarding MODE (rxonly: a sink; macswap: every frame back), polling one
# CPU; started only for the vhost-user rounds. Its PID goes to PIDS.
testpmd_start() {
	rm -f "$T/vu.sock"
	# --stats-period: it runs until killed instead of reading stdin.
	dpdk-testpmd --no-huge -m 256 --no-pci -l 0,1 --file-prefix="vlab-$$" \
		--vdev "net_vhost0,iface=$T/vu.sock,queues=1" -- --forward-mode="$1" \
		--auto-start --total-num-mbufs=8192 --stats-period 3600 </dev/null \
		>"$T/testpmd.$1" 2>&1 &
	testpmd_pid=$!
	PIDS+=($testpmd_pid)
	wait_for "$T/testpmd.$1" "binding succeeded" 120 $testpmd_pid || {
		echo "$NAME: testpmd did not start:" >&2
		tail -5 "$T/testpmd.$1" >&2
		exit 1
	}
}

testpmd_stop() {
	kill "$testpmd_pid" 2>/dev/null || true
	wait "$testpmd_pid" 2>/dev/null || true
}

# vhost-user: the same payload, the data path between the guest and
# testpmd with no VMM thread in between; vlab's column only if it has one.
vu_whos=
if command -v dpdk-testpmd >/dev/null; then
	vu_whos=qemu-vu
	"$vlab" run --help 2>&1 | grep -q "vhost-user" && vu_whos="vlab-vu qemu-vu"
else
	echo "$NAME: dpdk-testpmd missing (apt-get install dpdk-dev): no vhost-user rows"
fi
for mode in blast ping; do
	[ -n "$vu_whos" ] || break
	if [ $mode = blast ]; then testpmd_start rxonly; else testpmd_start macswap; fi
	for r in $(seq 1 "$repeat"); do
		order=$vu_whos
		[ $((r % 2)) = 0 ] && order=$(echo "$vu_whos" | tr ' ' '\n' | tac | tr '\n' ' ')
		for who in $order; do
			c=$n
			[ $mode = ping ] && c=$rtt_n
			run_vm "$who" $mode "$c" "$T/$who.$mode.$r"
			if [ $mode = blast ]; then
				[ "$r" = 1 ] && run_vm "$who" blast 1000 "$T/$who.base"
				printf '  round %d %-7s %s Mpps\n' "$r" "$who" "$(mpps_of "$T/$who.blast.$r")"
			else
				printf '  round %d %-7s rtt p50 %s us\n' "$r" "$who" "$(p50_of "$T/$who.ping.$r")"
			fi
		done
	done
	testpmd_stop
done

# best (max Mpps, min p50) and the range over the rounds
summary() {
	local who=$1 f r mp=() p5=() p9=() ex kicks base

	for r in $(seq 1 "$repeat"); do
		mp+=("$(mpps_of "$T/$who.blast.$r")")
		p5+=("$(p50_of "$T/$who.ping.$r")")
		p9+=("$(p99_of "$T/$who.ping.$r")")
	done
	base=$(exits_of "$T/$who.base")
	ex=$(exits_of "$T/$who.blast.1")
	kicks=$(kicks_of "$T/$who.blast.1")
	printf '%s\n' "${mp[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s %s ", hi, lo }'
	printf '%s\n' "${p5[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s %s ", lo, hi }'
	printf '%s\n' "${p9[@]}" | sort -g | head -1 | tr '\n' ' '
	if [ $perf_ok = 1 ]; then
		echo "$ex $base $n" | awk '{ printf "%.4f ", ($1 - $2) / ($3 - 1000) }'
	else
		printf 'n/a '
	fi
	echo "$kicks $n" | awk '{ printf "%.4f\n", $1 / $2 }'
}

echo
printf '%-8s %-16s %-18s %-9s %-12s %s\n' VMM "Mpps best(min)" "rtt p50 us (max)" "p99 us" \
	"exits/frame" "doorbells/frame"
for who in $whos $vu_whos; do
	read -r mhi mlo plo phi p99 epf dpf < <(summary "$who")
	eval "best_${who/-/_}=$mhi; rtt_${who/-/_}=$plo"
	printf '%-8s %-16s %-18s %-9s %-12s %s\n' "$who" "$mhi ($mlo)" "$plo ($phi)" "$p99" \
		"$epf" "$dpf"
done
echo
echo "vlab/QEMU Mpps: $(echo "$best_vlab $best_qemu" | awk '{ printf "%.2f", $1 / $2 }')x" \
	"(target >= 2x); vlab $best_vlab Mpps (target >= 1);" \
	"vlab poll-us=0/QEMU: $(echo "$best_vlab0 $best_qemu" | awk '{ printf "%.2f", $1 / $2 }')x"
if [ "$vu_whos" = "vlab-vu qemu-vu" ]; then
	echo "vhost-user, vlab/QEMU: Mpps $(echo "$best_vlab_vu $best_qemu_vu" |
		awk '{ printf "%.2f", $1 / $2 }')x, rtt p50 $(echo "$rtt_vlab_vu $rtt_qemu_vu" |
		awk '{ printf "%.2f", $1 / $2 }')x (target: within 10%)"
fi
