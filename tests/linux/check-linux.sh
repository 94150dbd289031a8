#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the vlab guest kernel with its built-in tests (vlab_ktest) and judge
# the TAP they print on the serial console.
#
#   tests/linux/check-linux.sh                   boot, then parse
#   tests/linux/check-linux.sh --parse-only LOG [RC]
#                                                parse LOG only; RC is the
#                                                VMM exit code (default 0)
#
# Pass only if the log has a plan "1..N", exactly N result lines numbered
# 1..N, all "ok", and vlab exited 0. The last line printed is always
# "check-linux: P passed, F failed" (tests with no result count as failed).
#
# Environment:
#   VLAB_LINUX_TIMEOUT  seconds before the boot is killed (default 1500;
#                       the emulating kvm_pvm hosts need minutes)
#   VLAB_LINUX_LOG      console log (default build/tests/linux/console.log)
#   VLAB_CMDLINE_EXTRA  appended to the kernel command line
#   VLAB                the VMM binary (default build/vlab)
#   VLAB_KVM_DEV        the KVM device (default /dev/kvm)
#   VLAB_REQUIRE_KVM    if 1, a missing KVM fails the run instead of
#                       skipping it
#
# Where the KVM device is missing or not read-write no guest can boot: the
# run prints a TAP skip and "check-linux: SKIP: ..." and passes, as the KVM
# payload tests of make test do (the guest kernel, and with it the guest
# drivers, is still built).

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# parse_tap LOG RC: print the TAP, the verdict line, and return 0 on pass.
parse_tap()
{
	local log=$1 rc=$2
	local line plan=-1 results=0 passed=0 failed=0 expect=1 bad_order=0
	local -a problems=()

	if [ ! -r "$log" ]; then
		echo "check-linux: no console log $log"
		echo "check-linux: 0 passed, 0 failed"
		return 1
	fi

	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		# printk time stamps: "[    1.234567] "
		if [[ $line =~ ^\[[\ 0-9.]+\]\ ?(.*)$ ]]; then
			line=${BASH_REMATCH[1]}
		fi

		if [[ $line =~ ^TAP\ version\ [0-9]+$ ]]; then
			echo "$line"
		elif [[ $line =~ ^1\.\.([0-9]+)$ ]]; then
			if [ "$plan" -ge 0 ]; then
				problems+=("a second plan line: $line")
			else
				plan=${BASH_REMATCH[1]}
			fi
			echo "$line"
		elif [[ $line =~ ^(not\ )?ok\ ([0-9]+)($|[\ ].*$) ]]; then
			echo "$line"
			results=$((results + 1))
			if [ "${BASH_REMATCH[2]}" -ne "$expect" ]; then
				bad_order=1
			fi
			expect=$((BASH_REMATCH[2] + 1))
			if [ -n "${BASH_REMATCH[1]}" ]; then
				failed=$((failed + 1))
			else
				passed=$((passed + 1))
			fi
		elif [[ $line =~ ^#\  ]]; then
			echo "$line"
		fi
	done < "$log"

	if [ "$plan" -lt 0 ]; then
		problems+=("no TAP plan (1..N) in $log")
	elif [ "$results" -ne "$plan" ]; then
		problems+=("plan 1..$plan but $results result lines")
	fi
	if [ "$bad_order" -ne 0 ]; then
		problems+=("result lines are not numbered 1..N in order")
	fi
	if [ "$failed" -ne 0 ]; then
		problems+=("$failed test(s) not ok")
	fi
	if [ "$rc" -ne 0 ]; then
		if [ "$rc" -eq 124 ]; then
			problems+=("vlab timed out")
		else
			problems+=("vlab exited with status $rc")
		fi
	fi

	# Tests the plan announced but that never reported count as failed.
	if [ "$plan" -gt "$results" ]; then
		failed=$((failed + plan - results))
	fi

	if [ ${#problems[@]} -ne 0 ]; then
		if [ "$plan" -lt 0 ]; then
			echo "check-linux: last lines of $log:"
			tail -n 30 "$log" | sed 's/^/    /'
		fi
		for line in "${problems[@]}"; do
			echo "check-linux: FAIL: $line"
		done
		echo "check-linux: $passed passed, $failed failed"
		return 1
	fi
	echo "check-linux: $passed passed, $failed failed"
	return 0
}

if [ "${1:-}" = "--parse-only" ]; then
	if [ $# -lt 2 ] || [ $# -gt 3 ]; then
		echo "usage: $0 --parse-only LOG [VLAB_EXIT_CODE]" >&2
		exit 2
	fi
	parse_tap "$2" "${3:-0}"
	exit $?
fi

kvm_dev=${VLAB_KVM_DEV:-/dev/kvm}
# (a test, not an open: bash's <> would create a missing file)
if [ ! -c "$kvm_dev" ] || [ ! -r "$kvm_dev" ] || [ ! -w "$kvm_dev" ]; then
	why="$kvm_dev is not a device this user can read and write"
	[ -e "$kvm_dev" ] || why="$kvm_dev does not exist"
	if [ "${VLAB_REQUIRE_KVM:-0}" = 1 ]; then
		echo "check-linux: FAIL: $why (VLAB_REQUIRE_KVM=1)"
		echo "check-linux: 0 passed, 1 failed"
		exit 1
	fi
	echo "1..0 # SKIP $why: no guest booted"
	echo "check-linux: SKIP: $why: no guest booted, no Linux test run"
	echo "check-linux: 0 passed, 0 failed"
	exit 0
fi

vlab=${VLAB:-$root/build/vlab}
kernel=$root/build/guest/vmlinux
initrd=$root/build/guest/initramfs.cpio
log=${VLAB_LINUX_LOG:-$root/build/tests/linux/console.log}
limit=${VLAB_LINUX_TIMEOUT:-1500}
base="console=ttyS0 reboot=k panic=-1 vlab_ktest.run=1"
extra=${VLAB_CMDLINE_EXTRA:+ $VLAB_CMDLINE_EXTRA}

if [ ! -f "$kernel" ] || [ ! -f "$initrd" ]; then
	echo "check-linux: $kernel or $initrd missing: run make guest first" >&2
	exit 1
fi
if [ ! -x "$vlab" ]; then
	echo "check-linux: $vlab missing: run make first" >&2
	exit 1
fi

logdir=$(dirname "$log")
mkdir -p "$logdir"
hub=$(mktemp -d /tmp/vlab-check-linux-hub.XXXXXX)
trap 'rm -rf "$hub"' EXIT

# boot NAME LOG ARGS...: run one guest, leave its exit status in LOG.rc
boot()
{
	local name=$1 glog=$2 start=$SECONDS rc=0
	shift 2
	rm -f "$glog" "$glog.rc"
	timeout -k 10 "$limit" "$vlab" run --kernel "$kernel" --initrd "$initrd" \
		--console "file:$glog" "$@" || rc=$?
	echo "check-linux: $name: vlab exited with status $rc after $((SECONDS - start))s"
	echo "$rc" > "$glog.rc"
}

# 1. One guest, 2 vCPUs: basics, and the virtio-net driver's control-queue
#    commands probed through the receive filter on the loop backend.
# 2. Two guests on one hub, concurrently: frames cross between them.
#    Then the same with one guest on the simulated vDPA NIC (--vdpa, the
#    stock virtio_net driver over passthrough rings and the shadowed CVQ).
echo "check-linux: booting $kernel (timeout ${limit}s per guest), logs in $logdir"
boot main "$log" --mem 256M --cpus 2 --net loop,queues=2 \
	--cmdline "$base vlab_ktest.cpus=2 vlab_ktest.mem_mb=256$extra"
mac_a=52:54:00:00:aa:01
mac_b=52:54:00:00:aa:02
boot peer-a "$log.peer-a" --mem 128M --net "hub=$hub,mac=$mac_a" \
	--cmdline "$base vlab_ktest.net_peer=$mac_b$extra" &
boot peer-b "$log.peer-b" --mem 128M --net "hub=$hub,mac=$mac_b" \
	--cmdline "$base vlab_ktest.net_peer=$mac_a pci=nomsi$extra" &
wait
mkdir -p "$hub/vdpa"
boot vdpa "$log.vdpa" --mem 128M --vdpa "hub=$hub/vdpa,mac=$mac_a,model=full,fw-scale=0" \
	--cmdline "$base vlab_ktest.net_peer=$mac_b$extra" &
boot vdpa-peer "$log.vdpa-peer" --mem 128M --net "hub=$hub/vdpa,mac=$mac_b" \
	--cmdline "$base vlab_ktest.net_peer=$mac_a pci=nomsi$extra" &
wait

# 3. Live migration while a test runs: the TAP starts on the source and
#    ends on the destination. Two at once: plain guests (memory held and
#    checked), and a guest on the simulated vDPA NIC whose driver has set
#    MAC, queue pairs, rx mode, a multicast group and a VLAN, moved while
#    its frames flow (through shadow virtqueues) and checked again after.
# migrate_run NAME DEVICES CMDLINE: a source and a destination with the
# same DEVICES (one string, split on spaces), migrated at "holding".
migrate_run()
{
	local name=$1 devs=$2 cmdline=$3 g=$log.$1 src_pid dst_pid rc
	local mig_sock=$hub/$1.sock ctl_sock=$hub/$1.ctl

	rm -f "$g-dst" "$g-src"
	# shellcheck disable=SC2086 # DEVICES is a list of words
	boot "$name-dst" "$g-dst" --mem 256M $devs --incoming "unix:$mig_sock" &
	dst_pid=$!
	# shellcheck disable=SC2086
	boot "$name-src" "$g-src" --mem 256M $devs --control "$ctl_sock" \
		--cmdline "$base $cmdline$extra" &
	src_pid=$!
	for _ in $(seq 1 "$limit"); do
		grep -q "holding" "$g-src" 2>/dev/null && break
		kill -0 "$src_pid" 2>/dev/null || break
		sleep 1
	done
	if grep -q "holding" "$g-src" 2>/dev/null; then
		"$vlab" ctl "$ctl_sock" migrate "uri=unix:$mig_sock" || true
	else
		echo "check-linux: $name: the source never reached the hold"
		kill "$dst_pid" 2>/dev/null || true
	fi
	wait "$src_pid" || true
	# The destination removes its socket once a stream arrives; if it is
	# still there no stream ever came (the migrate command failed).
	[ -S "$mig_sock" ] && pkill -f -- "--incoming unix:$mig_sock" 2>/dev/null || true
	wait "$dst_pid" || true
	cat "$g-src" "$g-dst" > "$g"
	rc=$(cat "$g-dst.rc" 2>/dev/null || echo 1)
	if ! grep -q "vlab_ktest: .* passed" "$g-dst" 2>/dev/null; then
		echo "check-linux: $name: the destination did not finish the TAP run"
		rc=1
	fi
	[ "$(cat "$g-src.rc" 2>/dev/null || echo 1)" = 0 ] || rc=1
	echo "$rc" > "$g.rc"
}
migrate_run migrate "" "vlab_ktest.hold_s=20" &
migrate_run migrate-vdpa "--vdpa loop,queues=2,model=full,fw-scale=0" \
	"vlab_ktest.net_hold_s=20" &
wait

# 4. RDMA through the guest kernel's own stack (the vrdma driver): two
#    guests with a NIC and a virtio-rdma device on it, addresses from ip=;
#    the rdma_cm connects them, SEND/RECV, WRITE and READ through
#    fast-registered MRs. Then the same with the client live-migrated while
#    it writes and reads in rounds, the server checking every round: the
#    connection carries on and the TAP ends on the destination.
ip_a="ip=10.77.0.1:::255.255.255.0::eth0:off"
ip_b="ip=10.77.0.2:::255.255.255.0::eth0:off"
mkdir -p "$hub/rdma" "$hub/rdma-mig"
boot rdma-server "$log.rdma-server" --mem 128M --net "hub=$hub/rdma,mac=$mac_a" --rdma net=0 \
	--cmdline "$base vlab_ktest.rdma_listen=1 $ip_a$extra" &
boot rdma-client "$log.rdma-client" --mem 128M --net "hub=$hub/rdma,mac=$mac_b" --rdma net=0 \
	--cmdline "$base vlab_ktest.rdma_connect=10.77.0.1 $ip_b$extra" &
wait
boot rdma-mig-server "$log.rdma-mig-server" --mem 128M --net "hub=$hub/rdma-mig,mac=$mac_a" \
	--rdma net=0 --cmdline "$base vlab_ktest.rdma_listen=1 vlab_ktest.rdma_hold_s=20 $ip_a$extra" &
migrate_run migrate-rdma "--net hub=$hub/rdma-mig,mac=$mac_b --rdma net=0" \
	"vlab_ktest.rdma_connect=10.77.0.1 vlab_ktest.rdma_hold_s=20 $ip_b" &
wait

total_pass=0
total_fail=0
status=0
for g in "$log" "$log.peer-a" "$log.peer-b" "$log.vdpa" "$log.vdpa-peer" "$log.migrate" \
	"$log.migrate-vdpa" "$log.rdma-server" "$log.rdma-client" "$log.rdma-mig-server" \
	"$log.migrate-rdma"; do
	echo "check-linux: --- $(basename "$g")"
	out=$(parse_tap "$g" "$(cat "$g.rc" 2>/dev/null || echo 1)") || status=1
	printf '%s\n' "$out" | sed '$d'
	last=$(printf '%s\n' "$out" | tail -n1)
	p=$(sed -nE 's/^check-linux: ([0-9]+) passed, ([0-9]+) failed$/\1/p' <<<"$last")
	f=$(sed -nE 's/^check-linux: ([0-9]+) passed, ([0-9]+) failed$/\2/p' <<<"$last")
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-1}))
done
echo "check-linux: $total_pass passed, $total_fail failed"
exit $status
