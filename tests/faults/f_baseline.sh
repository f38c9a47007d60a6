#!/bin/sh
# No fault: 100,000 jobs through one daemon, each run exactly once, Redis
# empty afterwards, and Redis's used_memory back within 1 MiB of what it
# was with the empty stream (N=1000000 gives the README's figure).  Also the checker's self-test: doctored records (a job
# missing, one unexpected, one duplicate) must fail it, and a loss seeded
# in Redis behind workqd's back (an entry deleted before it ran) must be
# reported as lost.
. "$(dirname "$0")/common.sh"

python3 "$FAULTS/check.py" --selftest || fail "the checker's self-test"

used() {
	rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'
}
redis_start
fconfig "$T/w.yaml"
# The baseline: the group and an empty stream, one job run and trimmed.
workqd_start "$T/w.yaml"
push --first 0 --count 1 > /dev/null
wait_executed 1 20
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
base=$(used)
start=$(now_ms)
push --count "$N"
peak=$(used)
say "pushed $N jobs in $(( $(now_ms) - start )) ms; used_memory $base bytes empty, $peak with the jobs queued"
start=$(now_ms)
workqd_start "$T/w.yaml"
check --wait $((120 + N / 10000)) --max-dups 0 || fail "baseline"
took=$(( $(now_ms) - start ))
after=$(used)
say "ran $N jobs in $took ms ($(( N * 1000 / took )) jobs/s); used_memory after: $after bytes ($(( (after - base) / 1024 )) KiB over the empty stream)"
[ $((after - base)) -le 1048576 ] || fail "used_memory grew by $((after - base)) bytes"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"

# Seeded loss: 10 more jobs, one deleted behind workqd's back before it
# can run (no daemon runs now).  The checker must call it lost.
push --first $((N + 1)) --count 10 > /dev/null
victim=$(rcli XRANGE workq:default - + COUNT 1 | head -n 1)
rcli XDEL workq:default "$victim" >/dev/null
workqd_start "$T/w.yaml"
if check --wait 5 > "$T/seeded.out"; then
	cat "$T/seeded.out"
	fail "the checker missed a seeded loss"
fi
grep -q 'lost=1 ' "$T/seeded.out" || fail "seeded loss: $(cat "$T/seeded.out")"
say "seeded loss detected: $(grep -o 'lost=[0-9]*' "$T/seeded.out")"
