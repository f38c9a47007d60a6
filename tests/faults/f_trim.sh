#!/bin/sh
# Redis memory stays flat: acknowledged entries leave the stream.  The
# baseline is used_memory with the group created and the stream empty.
# Then 100,000 jobs run; afterwards used_memory must be back near the
# baseline (within 1 MiB; queued, these 100,000 entries take 1.8 MB).
# Then a job that runs 15 s holds the oldest pending entry (so
# XTRIM MINID cannot pass it) while 100,000 more jobs run behind it: once
# it lingers (pending for more than 100 ms) the acknowledgement script
# XDELs what it acknowledges, so the stream does not grow behind it (the
# second 50,000 jobs leave it as long as the first) and memory stays near
# the baseline while the long job runs.
. "$(dirname "$0")/common.sh"

redis_start
fconfig "$T/w.yaml"
workqd_start "$T/w.yaml" "$T/wq.log"
push --count 1 > /dev/null
wait_executed 1 20
used() {
	rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'
}
settle() {
	_empty() { [ "$(pending default)" = 0 ] && [ "$(xlen default)" = 0 ]; }
	wait_until 120 _empty || fail "pending $(pending default), xlen $(xlen default)"
}
settle
base=$(used)
say "baseline used_memory $base bytes (empty stream)"

push --first 2 --count "$N" > /dev/null
check --wait 120 --max-dups 0 || fail "100,000 jobs"
after=$(used)
say "after $N jobs: used_memory $after bytes ($(( (after - base) / 1024 )) KiB over the baseline), stream length $(xlen default)"
[ $((after - base)) -le 1048576 ] || fail "used_memory grew by $((after - base)) bytes"

# Long enough for N jobs to run behind it: 15 s for the default 100,000,
# in proportion for more.
LONG=$(( N > 100000 ? 15000 * (N / 100000) : 15000 ))
push --first $((N + 2)) --count 1 --payload ms=$LONG > /dev/null
long_runs() { [ "$(pending default)" = 1 ]; }
wait_until 10 long_runs || fail "the long job did not start"
t0=$(now_ms)
push --first $((N + 3)) --count $((N / 2)) > /dev/null
wait_executed $((N + 1 + N / 2)) 120
len1=$(xlen default)
mem1=$(used)
push --first $((N + 3 + N / 2)) --count $((N / 2)) > /dev/null
wait_executed $((2 * N + 1)) 120
held=$(( $(now_ms) - t0 ))
[ "$held" -lt "$LONG" ] || fail "the test was too slow: the long job ended ($held ms)"
len2=$(xlen default)
mem2=$(used)
say "behind a running $((LONG / 1000)) s job: after $((N / 2)) jobs used_memory $mem1 bytes, stream length $len1; after $N jobs $mem2 bytes, stream length $len2"
[ "$len2" -le $((len1 + 100)) ] || fail "the stream grew from $len1 to $len2 entries behind the long job"
[ $((mem2 - base)) -le 1048576 ] || fail "used_memory grew by $((mem2 - base)) bytes behind the long job"
check --wait 60 --max-dups 0 || fail "jobs"
say "after the long job: used_memory $(used) bytes, stream length $(xlen default)"
