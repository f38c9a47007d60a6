#!/bin/sh
# A reply lost on the fetch connection: workqd's blocking read waits
# through a socat proxy; the proxy is frozen, then a job is pushed, so
# Redis hands the entry to workqd's read (it is now pending for workqd)
# but the reply is stuck in the frozen proxy.  workqd's timeout drops the
# connection and the reply is lost for good.  The janitor finds the entry
# pending for this daemon and not held (idle longer than a reply may take:
# 2 x command_timeout) and takes it back by id: it runs exactly once.
# Then the same with 100,000 jobs flowing and the proxy frozen for 8 s
# mid-run: nothing lost.
. "$(dirname "$0")/common.sh"

redis_behind_proxy
CMD_TIMEOUT=2s ADDR=127.0.0.1:$PROXY CONSUMER=a fconfig "$T/a.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
push --count 10 > /dev/null
wait_executed 10 20
blocked() { redis-cli -h 127.0.0.1 -p "$PORT" CLIENT LIST | grep -q 'name=workqd-fetch .*flags=b'; }
wait_until 10 blocked || fail "workqd's read is not blocked"

event fault "proxy frozen; one job pushed into the blocked read"
kill -STOP -"$SOCAT"
push --first 11 --count 1 > /dev/null
delivered() { [ "$(consumer_pending a)" = 1 ]; }
wait_until 5 delivered || fail "Redis did not hand the entry to workqd's read"
lost() { grep -q 'redis fetch: no reply in time' "$T/a.log"; }
wait_until 15 lost || fail "workqd did not give up on the read"
kill -CONT -"$SOCAT"
event heal "proxy continued"
adopted() { grep -q 'took back 1 entries of ours on workq:default whose delivery was lost' "$T/a.log"; }
wait_until 20 adopted || fail "the lost delivery was not taken back"
check --wait 10 --max-dups 0 || fail "the lost delivery"
say "a delivery whose reply was lost was taken back and ran once"

# Under load: the proxy frozen 8 s mid-run (reads, acknowledgements and
# claims lost with their replies).
push_bg --first 12 --count "$N" --rate 8000
wait_executed $((N / 3)) 60
event fault "proxy frozen under load"
kill -STOP -"$SOCAT"
sleep 8
kill -CONT -"$SOCAT"
event heal "proxy continued after 8 s"
push_wait
kill -0 "$WQ_PID" || fail "workqd died"
check --wait 120 --faults 2 --max-dups $((8 + 64)) || fail "lost replies"
