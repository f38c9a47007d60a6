#!/bin/sh
# Two daemons on one queue (consumers a and b), 100,000 jobs; a is
# SIGKILLed mid-run and not restarted.  b must take a's pending entries
# over within the takeover bound: a's lease lapses at most `takeover`
# after its last heartbeat, and b's janitor looks every `heartbeat`, so
# the bound is takeover + heartbeat (here 5 s + 1 s; plus 1 s of slack for
# a loaded machine).  Nothing lost; duplicates at most a's workers +
# prefetch.
. "$(dirname "$0")/common.sh"

redis_start
CONSUMER=a fconfig "$T/a.yaml"
CONSUMER=b fconfig "$T/b.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
workqd_start "$T/b.yaml" "$T/b.log"
B=$WQ_PID
push --count "$N" --rate 10000 --payload ms=2 > "$T/push.out" 2>&1 &
PUSH=$!
track $PUSH

wait_executed $((N / 3)) 60
a_holds() { [ "$(consumer_pending a)" -gt 0 ]; }
wait_until 10 a_holds || fail "a holds no entries"
t0=$(now_ms)
kill -9 "$A"
wait "$A" 2>/dev/null || true
held=$(consumer_pending a)
[ "$held" -gt 0 ] || fail "a held nothing when it was killed"
event fault "SIGKILL a (holding $held entries)"
a_taken() { [ "$(consumer_pending a)" -lt "$held" ]; }
wait_until 30 a_taken || fail "a's entries were not taken over in 30 s"
began=$(( $(now_ms) - t0 ))
a_empty() { [ "$(consumer_pending a)" -eq 0 ]; }
wait_until 30 a_empty || fail "a's entries were not all taken over in 30 s"
took=$(( $(now_ms) - t0 ))
event heal "b took a's $held entries over"
say "takeover began after $began ms (bound 6000 ms), all $held entries taken after $took ms"
[ "$began" -le 7000 ] || fail "takeover began after $began ms (bound 6000 ms + 1000 ms slack)"

wait_exit $PUSH
[ "$STATUS" -eq 0 ] || fail "the producer failed: $(cat "$T/push.out")"
cat "$T/push.out"
check --wait 120 --faults 1 --max-dups $((8 + 64)) || fail "takeover"
