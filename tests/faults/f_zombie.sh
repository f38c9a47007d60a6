#!/bin/sh
# Two daemons on one queue, 100,000 jobs; a is frozen with SIGSTOP past the
# takeover bound (5 s + 1 s heartbeat; frozen 8 s), so b takes its entries
# over; then a continues.  a finds its lease lapsed (and says so), its late
# acknowledgements are harmless, and what it held may run twice: at most
# workers + prefetch duplicates.  Nothing lost.
. "$(dirname "$0")/common.sh"

redis_start
CONSUMER=a fconfig "$T/a.yaml"
CONSUMER=b fconfig "$T/b.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
workqd_start "$T/b.yaml" "$T/b.log"
push --count "$N" --rate 10000 --payload ms=2 > "$T/push.out" 2>&1 &
PUSH=$!
track $PUSH

wait_executed $((N / 4)) 60
a_holds() { [ "$(consumer_pending a)" -gt 0 ]; }
wait_until 10 a_holds || fail "a holds no entries"
event fault "SIGSTOP a (holding $(consumer_pending a) entries)"
kill -STOP "$A"
a_empty() { [ "$(consumer_pending a)" -eq 0 ]; }
wait_until 30 a_empty || fail "a's entries were not taken over in 30 s"
say "b took a's entries over"
sleep 2
kill -CONT "$A"
event heal "SIGCONT a"
lapsed() { grep -q "lease on workq:default lapsed" "$T/a.log"; }
wait_until 10 lapsed || fail "a did not notice that its lease lapsed"
grep 'lapsed' "$T/a.log" | head -n 1

wait_exit $PUSH
[ "$STATUS" -eq 0 ] || fail "the producer failed: $(cat "$T/push.out")"
cat "$T/push.out"
check --wait 120 --faults 1 --max-dups $((8 + 64)) || fail "zombie"
a_runs() { [ "$(awk -v p="$A" '$2 == p && $3 > '"$(tail -n 1 "$EVENTS" | cut -d' ' -f1)"'' "$REC" | wc -l)" -gt 0 ]; }
a_runs || fail "a ran no job after SIGCONT"
