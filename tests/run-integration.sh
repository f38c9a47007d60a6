#!/bin/sh
# Runs integration test scripts, each under a timeout, and reports.
# Usage: O=<build dir> sh tests/run-integration.sh tests/integration/t_*.sh
# TEST_TIMEOUT (seconds, default 300) bounds each script.

fail=0
passed=0
for t in "$@"; do
	start=$(date +%s)
	if timeout -k 10 "${TEST_TIMEOUT:-300}" sh "$t"; then
		passed=$((passed + 1))
		echo "PASS $t ($(( $(date +%s) - start ))s)"
	else
		fail=$((fail + 1))
		echo "FAIL $t ($(( $(date +%s) - start ))s)"
	fi
done
echo "integration: $passed passed, $fail failed"
[ "$fail" -eq 0 ]
