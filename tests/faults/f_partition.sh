#!/bin/sh
# A network partition: daemon a talks TCP to Redis through a socat proxy,
# daemon b directly; 100,000 jobs.  The proxy (its whole process group) is
# frozen with SIGSTOP for 30 s: a black hole, as with a cable pulled (tc
# netem is not available on these machines).  a's command timeouts fire
# and it keeps reconnecting into the hole; its lease lapses, so b takes
# a's entries over.  After SIGCONT, a reconnects, finds its lease lapsed,
# and its late acknowledgements are harmless.  Nothing lost; duplicates at
# most what a held.  Then 20,000 more jobs: a must run some
# (it did not stall).
. "$(dirname "$0")/common.sh"

redis_behind_proxy

# a through the proxy (fconfig reads ADDR for each file), b directly.
ADDR=127.0.0.1:$PROXY CONSUMER=a fconfig "$T/a.yaml"
CONSUMER=b fconfig "$T/b.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
workqd_start "$T/b.yaml" "$T/b.log"
B=$WQ_PID
push --count "$N" --payload ms=2 > "$T/push.out" 2>&1
cat "$T/push.out"

wait_executed $((N / 5)) 60
takeover "partition: socat SIGSTOP" kill -STOP -"$SOCAT"
say "b took a's $HELD entries over after $TOOK ms"
while [ $(( $(now_ms) - T0 )) -lt 30000 ]; do sleep 0.2; done
kill -CONT -"$SOCAT"
event heal "partition healed: socat SIGCONT (30 s)"
a_back() { grep -q 'lease on workq:default lapsed' "$T/a.log"; }
wait_until 20 a_back || fail "a did not come back (or did not notice its lease lapsed)"
say "a is back $(( $(now_ms) - T0 - 30000 )) ms after the heal"

# a fetches and runs again: 20,000 more jobs, some of them on a.
push --first $((N + 1)) --count 20000 --payload ms=2 > "$T/push.out" 2>&1
cat "$T/push.out"
kill -0 "$A" || fail "a died"
kill -0 "$B" || fail "b died"
check --wait 120 --faults 1 --max-dups "$HELD" || fail "partition"
a_runs() { awk -v p="$A" -v t="$((T0 + 30000))" '$2 == p && $3 > t' "$REC" | grep -q .; }
a_runs || fail "a ran no job after the partition healed"
