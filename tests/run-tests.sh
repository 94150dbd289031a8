#!/bin/bash
# Run every test binary or TAP script given, sum Check's per-suite counts
# (a script's ok and not ok lines), and end with one plain "N passed, N
# failed" line. Exit non-zero if anything failed.
set -u
passed=0
failed=0
bad=()
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+' | tail -1)
	tap_ok=$(printf '%s\n' "$out" | grep -cE '^ok [0-9]+')
	tap_not=$(printf '%s\n' "$out" | grep -cE '^not ok [0-9]+')
	if [ -z "$line" ] && [ $((tap_ok + tap_not)) -gt 0 ]; then
		# a TAP script: its ok and not ok lines are its checks
		passed=$((passed + tap_ok))
		failed=$((failed + tap_not))
		line="TAP"
	elif [ -n "$line" ]; then
		checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		passed=$((passed + checks - fails - errs))
		failed=$((failed + fails + errs))
	fi
	if [ $rc -ne 0 ]; then
		bad+=("$t")
		[ -z "$line" ] && failed=$((failed + 1))
	fi
done
if [ ${#bad[@]} -ne 0 ]; then
	echo "FAILED: ${bad[*]}"
fi
echo "tests: $passed passed, $failed failed"
[ ${#bad[@]} -eq 0 ] && [ $failed -eq 0 ]
