#!/bin/bash
# Wall time from process start to the guest's "Run /init" line, for vlab
# and for QEMU (-M microvm) with the same kernel, initrd and switches, in
# one run, printed side by side with their ratio.
#
#   make bench-boot [BENCH_TIMEOUT=900] [BENCH_CPUS=1]
set -uo pipefail
cd "$(dirname "$0")/../.."

KERNEL=${BENCH_KERNEL:-build/guest/vmlinux}
INITRD=${BENCH_INITRD:-build/guest/initramfs.cpio}
TIMEOUT=${BENCH_TIMEOUT:-900}
CPUS=${BENCH_CPUS:-1}
MEM=256M
MARK="Run /init as init process"
# The switches vlab adds by itself on an emulating host, given explicitly so
# that both VMMs boot the kernel with the same command line. QEMU runs its
# default CPU model: "-cpu host" cannot even start on kvm_pvm (MSR 0x10a).
CMDLINE="console=ttyS0 panic=-1 noxsave clearcpuid=smap,popcnt,ssse3 nopv tsc=reliable"

if [ ! -f "$KERNEL" ]; then
	echo "bench-boot: $KERNEL missing; run 'make guest' first" >&2
	exit 2
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "bench-boot: installing qemu-system-x86 for the comparison" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >/dev/null ||
		echo "bench-boot: no QEMU; only vlab will be timed" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# time_to_mark NAME LOG CMD...: runs CMD, prints seconds until LOG has MARK,
# or "fail:<reason>" when the process ends first or the timeout passes.
time_to_mark() {
	local name=$1 log=$2
	shift 2
	local start end pid
	: >"$log"
	start=$(date +%s.%N)
	"$@" >"$tmp/$name.out" 2>&1 &
	pid=$!
	while :; do
		if grep -q "$MARK" "$log" 2>/dev/null; then
			end=$(date +%s.%N)
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			echo "$end - $start" | bc
			return 0
		fi
		# QEMU stops (but does not exit) on a KVM internal error.
		if grep -q "KVM internal error" "$tmp/$name.out" 2>/dev/null; then
			end=$(date +%s.%N)
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			echo "fail:KVM internal error after $(echo "$end - $start" | bc | cut -c1-6)s ($(grep -m1 -A2 'KVM internal error' "$tmp/$name.out" | tail -1 | tr -d '\r' | cut -c1-40))"
			return 1
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			local rc=$? why
			end=$(date +%s.%N)
			why=$(grep -m1 -E "error|Error|crash|fault" "$tmp/$name.out" | tr -d '\r' | cut -c1-70)
			echo "fail:exit $rc after $(echo "$end - $start" | bc | cut -c1-6)s${why:+: $why}"
			return 1
		fi
		if [ "$(echo "$(date +%s.%N) - $start > $TIMEOUT" | bc)" = 1 ]; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			echo "fail:timeout after ${TIMEOUT}s"
			return 1
		fi
		sleep 0.2
	done
}

echo "bench-boot: kernel $KERNEL, $MEM, $CPUS vCPU(s), mark \"$MARK\""
vlab_t=$(time_to_mark vlab "$tmp/vlab.log" build/vlab run --kernel "$KERNEL" \
	--initrd "$INITRD" --mem $MEM --cpus "$CPUS" --cmdline "$CMDLINE" \
	--console "file:$tmp/vlab.log")
qemu_t="fail:not installed"
if command -v qemu-system-x86_64 >/dev/null; then
	qemu_t=$(time_to_mark qemu "$tmp/qemu.log" qemu-system-x86_64 -M microvm \
		-enable-kvm -m $MEM -smp "$CPUS" -nodefaults -no-user-config \
		-nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" \
		-append "$CMDLINE" -serial "file:$tmp/qemu.log")
fi

printf '%-28s %s\n' "VMM" "time to \"Run /init\""
printf '%-28s %s\n' "vlab" "$vlab_t"
printf '%-28s %s\n' "qemu-system-x86_64 -M microvm" "$qemu_t"
if [[ $vlab_t != fail:* && $qemu_t != fail:* ]]; then
	printf 'ratio qemu/vlab: %.2f\n' "$(echo "$qemu_t / $vlab_t" | bc -l)"
else
	echo "ratio qemu/vlab: n/a (one side did not reach the mark)"
fi
[[ $vlab_t != fail:* ]]
