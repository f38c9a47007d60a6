#!/bin/sh
# Redis frozen with SIGSTOP for 10 s while 100,000 jobs flow, then
# continued.  hiredis 0.14 has no timeouts: workqd's own command timeouts
# (command_timeout 5s; a blocked read gets its BLOCK time plus 5 s) must
# notice, drop both connections, and reconnect once Redis is back, with no
# stall and nothing lost.  Reported: when the log says the reply was late
# (detection), and the first job started after SIGCONT (recovery).
. "$(dirname "$0")/common.sh"

redis_start
fconfig "$T/w.yaml"
workqd_start "$T/w.yaml" "$T/wq.log"
push_bg --count "$N" --rate 5000 --payload ms=0 --every 10:ms=1-5 --give-up 60

wait_executed $((N / 4)) 60
event fault "Redis SIGSTOP"
t0=$(now_ms)
kill -STOP "$REDIS_PID"
timed_out() { grep -q 'no reply in time' "$T/wq.log"; }
wait_until 12 timed_out || fail "workqd did not notice the hung Redis"
say "late reply detected after $(( $(now_ms) - t0 )) ms"
while [ $(( $(now_ms) - t0 )) -lt 10000 ]; do sleep 0.1; done
kill -CONT "$REDIS_PID"
event heal "Redis SIGCONT (frozen 10 s)"
push_wait
kill -0 "$WQ_PID" || fail "workqd died"
check --wait 120 --faults 1 --max-dups $((8 + 64)) --stall 15 ||
    fail "Redis SIGSTOP"
grep 'no reply in time' "$T/wq.log" | head -n 2
