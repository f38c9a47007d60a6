#!/bin/sh
# Redis out of memory while producers push: maxmemory is set just above
# used_memory (noeviction) while 100,000 jobs flow in faster than one
# daemon runs them.  Producers get OOM errors (counted; a rejected push is
# pushed again later, and only confirmed pushes count); workqd keeps
# acknowledging (its scripts are flags=allow-oom), which frees memory and
# lets pushes through again.  Its connections are killed once meanwhile
# (it must reconnect and fetch under OOM).  After 10 s maxmemory is lifted.  workqd must
# not crash, spin or log per job; nothing lost.
. "$(dirname "$0")/common.sh"

redis_start --maxmemory-policy noeviction
fconfig "$T/w.yaml"
workqd_start "$T/w.yaml" "$T/wq.log"
pad=$(printf '%0200d' 0)
push_bg --count "$N" --rate 6000 --payload ms=2 --field pad "$pad" --give-up 60

wait_executed $((N / 5)) 60
used=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
limit=$((used + 2 * 1024 * 1024))
rcli CONFIG SET maxmemory "$limit" > /dev/null
event fault "maxmemory $limit (used_memory $used)"
t0=$(now_ms)
oom() { rcli INFO errorstats | grep -q '^errorstat_OOM:count=[1-9]'; }
wait_until 20 oom || fail "no push was refused: the test did not reach OOM"
say "Redis refuses writes after $(( $(now_ms) - t0 )) ms"
# Reconnecting while Redis is full: XGROUP CREATE ... MKSTREAM is refused
# with OOM then, and workqd must fetch anyway.
sleep 2
rcli CLIENT KILL TYPE normal > /dev/null
event heal "connections killed during OOM"
while [ $(( $(now_ms) - t0 )) -lt 10000 ]; do sleep 0.2; done
rcli CONFIG SET maxmemory 0 > /dev/null
event heal "maxmemory lifted after 10 s"
push_wait
grep -q 'rejected OOM [1-9]' "$T/push.out" || fail "the producer saw no OOM error"
kill -0 "$WQ_PID" || fail "workqd died"
check --wait 120 --faults 1 --max-dups 0 || fail "OOM"
lines=$(grep -ci 'oom\|memory' "$T/wq.log" || true)
say "workqd log lines about memory: $lines"
[ "$lines" -le 10 ] || fail "workqd logged $lines lines about memory"
