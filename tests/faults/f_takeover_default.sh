#!/bin/sh
# The default takeover bound: with the defaults (heartbeat 2s, takeover
# 10s) a SIGKILLed daemon's entries are taken over by a live peer within
# takeover + heartbeat = 12 s, which the issue bounds at 15 s.  20,000
# jobs; nothing lost.
. "$(dirname "$0")/common.sh"

N=20000
redis_start
HEARTBEAT=2s TAKEOVER=10s CONSUMER=a fconfig "$T/a.yaml"
HEARTBEAT=2s TAKEOVER=10s CONSUMER=b fconfig "$T/b.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
workqd_start "$T/b.yaml" "$T/b.log"
push --count "$N" --payload ms=2 > "$T/push.out" 2>&1
wait_executed $((N / 4)) 60
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
say "default bound: takeover began after $began ms, all $held entries taken after $took ms (takeover 10 s + heartbeat 2 s = 12 s; at most 15 s)"
[ "$began" -le 15000 ] || fail "takeover began after $began ms, more than 15 s"
check --wait 60 --max-dups $((8 + 64)) || fail "takeover with the defaults"
