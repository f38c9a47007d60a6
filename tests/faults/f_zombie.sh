#!/bin/sh
# Two daemons on one queue, 100,000 jobs; a is frozen with SIGSTOP past the
# takeover bound (5 s + 1 s heartbeat; frozen 8 s), so b takes its entries
# over; then a continues.  a finds its lease lapsed (and says so), its late
# acknowledgements are harmless, and what it held may run twice: at most
# workers + prefetch + its outcomes not yet acknowledged.  Nothing lost.
. "$(dirname "$0")/common.sh"

redis_start
two_daemons
push_bg --count "$N" --rate 10000 --payload ms=2

wait_executed $((N / 4)) 60
takeover "SIGSTOP a" kill -STOP "$A"
say "b took a's $HELD entries over after $TOOK ms"
sleep 2
kill -CONT "$A"
event heal "SIGCONT a"
lapsed() { grep -q "lease on workq:default lapsed" "$T/a.log"; }
wait_until 10 lapsed || fail "a did not notice that its lease lapsed"
grep 'lapsed' "$T/a.log" | head -n 1

push_wait
check --wait 120 --faults 1 --max-dups "$HELD" || fail "zombie"
a_runs() { [ "$(awk -v p="$A" '$2 == p && $3 > '"$(tail -n 1 "$EVENTS" | cut -d' ' -f1)"'' "$REC" | wc -l)" -gt 0 ]; }
a_runs || fail "a ran no job after SIGCONT"
