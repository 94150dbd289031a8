#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the TAP judgement in check-linux.sh, on made-up console
# logs, and of its skip where KVM is missing; needs no kernel and no VMM.

set -euo pipefail
shopt -s lastpipe	# expect runs at the end of pipes and counts

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
check=$here/check-linux.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

# expect NAME WANT_STATUS WANT_SUMMARY VLAB_RC: the log comes on stdin.
expect()
{
	local name=$1 want=$2 summary=$3 rc=$4 got=0 out

	n=$((n + 1))
	cat > "$tmp/log"
	out=$("$check" --parse-only "$tmp/log" "$rc" 2>&1) || got=$?
	if [ "$got" -ne "$want" ] || [ "$(tail -n1 <<< "$out")" != "$summary" ]; then
		echo "not ok $n - $name (status $got, want $want)"
		sed 's/^/    # /' <<< "$out"
		fails=$((fails + 1))
	else
		echo "ok $n - $name"
	fi
}

# A kernel log as vlab_ktest prints it: time stamps, CRLF, noise around.
good_log()
{
	printf '[    0.000000] Linux version 6.1.0 (root@build)\r\n'
	printf '[   91.402311] Freeing unused kernel image memory: 1024K\r\n'
	printf '[   92.000001] TAP version 13\r\n'
	printf '[   92.000002] 1..3\r\n'
	printf '[   92.000003] # suite ktest_basic\r\n'
	printf '[   92.000004] ok 1 - online_cpus\r\n'
	printf '[   92.000005] # totalram 245 MiB, guest memory 256 MiB\r\n'
	printf '[   92.000006] ok 2 - memory_size\r\n'
	printf '[   92.000007] ok 3 - pci_root_bus # SKIP CONFIG_PCI is off\r\n'
	printf '[   92.000008] # vlab_ktest: 3 passed, 0 failed\r\n'
	printf '[   92.100000] reboot: Restarting system\r\n'
}

echo "TAP version 13"

good_log | expect "all ok, vlab 0" 0 "check-linux: 3 passed, 0 failed" 0

good_log | expect "all ok but vlab exit 1" 1 "check-linux: 3 passed, 0 failed" 1

good_log | expect "all ok but vlab timed out" 1 "check-linux: 3 passed, 0 failed" 124

good_log | sed 's/ok 2 - memory_size/not ok 2 - memory_size # totalram 100 MiB/' |
	expect "one not ok" 1 "check-linux: 2 passed, 1 failed" 0

good_log | grep -v 'ok 3 ' |
	expect "guest died after two results" 1 "check-linux: 2 passed, 1 failed" 0

good_log | grep -v '1\.\.3' |
	expect "no plan" 1 "check-linux: 3 passed, 0 failed" 0

printf 'Linux version 6.1.0\nKernel panic - not syncing\n' |
	expect "no TAP at all" 1 "check-linux: 0 passed, 0 failed" 0

good_log | sed 's/1\.\.3/1..2/' |
	expect "more results than planned" 1 "check-linux: 3 passed, 0 failed" 0

good_log | sed 's/ok 2 - memory_size/ok 5 - memory_size/' |
	expect "misnumbered results" 1 "check-linux: 3 passed, 0 failed" 0

good_log | tr -d '\r' | sed 's/^\[[ 0-9.]*\] //' |
	expect "plain log, no time stamps or CR" 0 "check-linux: 3 passed, 0 failed" 0

{ good_log; printf '[   93.0] 1..3\r\n'; } |
	expect "second plan line" 1 "check-linux: 3 passed, 0 failed" 0

n=$((n + 1))
if "$check" --parse-only "$tmp/does-not-exist" 0 >/dev/null 2>&1; then
	echo "not ok $n - missing log passes"
	fails=$((fails + 1))
else
	echo "ok $n - missing log fails"
fi

# expect_kvm NAME WANT_STATUS WANT_SUMMARY KVM_DEV [VAR=VALUE]: a whole
# run where the KVM device is not usable; it must end before any boot.
expect_kvm()
{
	local name=$1 want=$2 summary=$3 dev=$4 got=0 out

	n=$((n + 1))
	out=$(env VLAB_KVM_DEV="$dev" VLAB=/nonexistent ${5:+"$5"} "$check" 2>&1) || got=$?
	if [ "$got" -ne "$want" ] || [ "$(tail -n1 <<< "$out")" != "$summary" ] ||
	   grep -q booting <<< "$out"; then
		echo "not ok $n - $name (status $got, want $want)"
		sed 's/^/    # /' <<< "$out"
		fails=$((fails + 1))
	else
		echo "ok $n - $name"
	fi
}

expect_kvm "no KVM device: skipped" 0 "check-linux: 0 passed, 0 failed" "$tmp/no-kvm"
expect_kvm "no KVM device, required: failed" 1 "check-linux: 0 passed, 1 failed" \
	"$tmp/no-kvm" VLAB_REQUIRE_KVM=1
: > "$tmp/file"
expect_kvm "a plain file is no KVM device" 0 "check-linux: 0 passed, 0 failed" "$tmp/file"
n=$((n + 1))
if env VLAB_KVM_DEV="$tmp/no-kvm" "$check" | grep -q '^1\.\.0 # SKIP ' &&
   [ ! -e "$tmp/no-kvm" ]; then
	echo "ok $n - the skip is a TAP skip and creates nothing"
else
	echo "not ok $n - the skip is a TAP skip and creates nothing"
	fails=$((fails + 1))
fi

echo "1..$n"
echo "# test-tap-parse: $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
