#!/bin/sh
# The graceful stop, checked in Redis (issue 6.2):
#  1. SIGTERM: fetching stops and the fetched-but-unstarted jobs are handed
#     back at once to the consumer workqd:handback with their delivery
#     count taken back down (0), while the running jobs, one of them polling
#     job_cancelled, run to their end; exit 0, nothing left pending.
#     systemd hears STOPPING=1 and, once a second while draining,
#     EXTEND_TIMEOUT_USEC= aiming at one fixed end: shutdown_timeout plus
#     the cancel and flush graces and a margin (7 s) after the stop
#     began, never further.  A
#     second daemon takes the handed-back jobs over at once (not after
#     `takeover`), as their first delivery (count 1), and SIGINT stops it
#     the same way.
#  2. shutdown_timeout: a job still running at the deadline is left
#     pending (exit 0 all the same) and the next start runs it.
#  3. A second SIGTERM exits at once; the running job stays pending and
#     the unstarted ones are handed back: every pushed job is still there.
#  4. Redis frozen during the stop, an outcome waiting for it, and a job
#     that ignores the cancel and ends after the flush began: the flush's
#     deadline still ends the daemon (it once restarted the flush without
#     one and waited for Redis forever).
. "$(dirname "$0")/../lib.sh"

mkdir -p "$T/plugins"
install -m 0644 "$TEST_PLUGIN_DIR/slow.so" "$T/plugins/slow.so"

# conf FILE CONSUMER WORKERS SHUTDOWN_TIMEOUT
conf() {
	cat > "$1" <<EOF
log: { level: debug }
redis: { address: "unix:$SOCK" }
consumer: $2
workers: $3
prefetch: 16
shutdown_timeout: $4
heartbeat: 1s
takeover: 60s
plugin_dir: $T/plugins
plugins:
  slow: {}
queues:
  - name: default
    plugin: slow
EOF
}

# counts CONSUMER: the delivery count of each entry it holds, one a line.
counts() {
	rcli XPENDING workq:default workqd - + 100 "$1" | awk 'NR % 4 == 0'
}
held() {
	counts "$1" | grep -c . || true
}
held_is() {
	[ "$(held "$1")" -eq "$2" ]
}
logged() {
	[ "$(grep -c -- "$2" "$1" || true)" -ge "${3:-1}" ]
}
push() {
	rcli XADD workq:default '*' payload "$1" >/dev/null
}
notify_listen "$T/notify.txt"

redis_start

# 1. SIGTERM with two jobs running and six fetched, unstarted.
conf "$T/a.yaml" a 2 30s
NOTIFY_SOCKET=$T/notify.sock workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
workqd_wait_ready "$T/a.log"
push 3000
push "3000 poll"
wait_until 10 logged "$T/a.log" 'slow\[-\]: job .*: started' 2 ||
    fail "the two long jobs did not start"
for i in 1 2 3 4 5 6; do
	push 1000
done
wait_until 10 held_is a 8 || fail "a holds $(held a) entries, not 8"
t0=$(now_ms)
kill -TERM "$A"
wait_until 2 held_is workqd:handback 6 ||
    fail "$(held workqd:handback) of 6 unstarted jobs handed back"
logged "$T/a.log" 'done after' && fail "the hand-back waited for the running jobs"
[ "$(counts workqd:handback | sort -u)" = 0 ] ||
    fail "handed-back delivery counts: $(counts workqd:handback | tr '\n' ' ')"
wait_exit "$A"
t1=$(now_ms)
[ "$STATUS" -eq 0 ] || fail "SIGTERM: exit status $STATUS"
logged "$T/a.log" 'slow\[-\]: job .*: done after 3000 ms' 2 ||
    fail "the running jobs did not finish (cancelled on SIGTERM?)"
logged "$T/a.log" 'cancelled' && fail "a job was cancelled by SIGTERM"
[ $((t1 - t0)) -ge 2000 ] || fail "exited after $((t1 - t0)) ms: did not wait"
held_is a 0 || fail "a still holds $(held a) entries"
grep -q '^STOPPING=1|EXTEND_TIMEOUT_USEC=[0-9]*|STATUS=stopping' "$T/notify.txt" ||
    fail "no STOPPING=1 with EXTEND_TIMEOUT_USEC="
# Each extension ends at the same moment: value + time sent is constant,
# and that end is shutdown_timeout (30 s) plus at most 7 s after SIGTERM.
sed -n 's/.*EXTEND_TIMEOUT_USEC=\([0-9]*\).*/\1/p' "$T/notify.txt" > "$T/extend.txt"
[ "$(wc -l < "$T/extend.txt")" -ge 2 ] || fail "EXTEND_TIMEOUT_USEC= was not renewed while draining"
awk 'NR == 1 { first = $1 } { last = $1 }
    END { exit !(first > 30000000 && first <= 37000000 && last < first &&
        last >= first - 4000000) }' "$T/extend.txt" ||
    fail "EXTEND_TIMEOUT_USEC= values: $(tr '\n' ' ' < "$T/extend.txt")"
say "SIGTERM: 6 handed back at once (count 0), 2 running finished, exit 0 after $((t1 - t0)) ms"

# The handed-back jobs: a second daemon takes them at once, first delivery.
conf "$T/b.yaml" b 6 30s
workqd_start "$T/b.yaml" "$T/b.log"
B=$WQ_PID
wait_until 5 held_is b 6 || fail "b took $(held b) of the 6 handed-back jobs"
[ "$(counts b | sort -u)" = 1 ] ||
    fail "delivery counts at b: $(counts b | tr '\n' ' ') (expected 1)"
held_is workqd:handback 0 || fail "entries left with workqd:handback"
wait_until 10 logged "$T/b.log" 'done after 1000 ms' 6 || fail "b did not run them"
wait_until 5 held_is b 0 || fail "b still holds $(held b)"
kill -INT "$B"
wait_exit "$B"
[ "$STATUS" -eq 0 ] || fail "SIGINT: exit status $STATUS"
[ "$(xlen default)" -eq 0 ] || fail "$(xlen default) entries left in the stream"
say "takeover: b ran the 6 at once as first deliveries; SIGINT exit 0"

# 2. shutdown_timeout: the job running at the deadline stays pending.
conf "$T/c.yaml" c 1 500ms
workqd_start "$T/c.yaml" "$T/c.log"
C=$WQ_PID
workqd_wait_ready "$T/c.log"
push 3000
wait_until 10 logged "$T/c.log" 'started' || fail "c: the job did not start"
t0=$(now_ms)
kill -TERM "$C"
wait_exit "$C"
t1=$(now_ms)
[ "$STATUS" -eq 0 ] || fail "deadline: exit status $STATUS"
# 500 ms, then the 2 s for cancelled jobs to return (this one ignores it).
[ $((t1 - t0)) -lt 4500 ] || fail "deadline: exited after $((t1 - t0)) ms"
logged "$T/c.log" 'shutdown_timeout reached with 1 job(s) running' ||
    fail "deadline: not logged"
held_is c 1 || fail "deadline: c holds $(held c) entries, not the running one"
workqd_start "$T/c.yaml" "$T/c2.log"
C=$WQ_PID
wait_until 10 logged "$T/c2.log" 'done after 3000 ms' ||
    fail "the next start did not run the job left pending"
wait_until 5 held_is c 0 || fail "c still holds $(held c)"
kill -TERM "$C"
wait_exit "$C"
[ "$STATUS" -eq 0 ] || fail "c2: exit status $STATUS"
say "deadline: exit 0 after $((t1 - t0)) ms, the running job stayed pending and ran at the next start"

# 3. A second SIGTERM: out at once, nothing lost.
conf "$T/d.yaml" d 1 30s
workqd_start "$T/d.yaml" "$T/d.log"
D=$WQ_PID
workqd_wait_ready "$T/d.log"
push 5000
wait_until 10 logged "$T/d.log" 'started' || fail "d: the job did not start"
push 1000
push 1000
push 1000
wait_until 10 held_is d 4 || fail "d holds $(held d), not 4"
kill -TERM "$D"
wait_until 2 held_is workqd:handback 3 || fail "d: hand-back"
t0=$(now_ms)
kill -TERM "$D"
wait_exit "$D"
t1=$(now_ms)
[ "$STATUS" -eq 0 ] || fail "second SIGTERM: exit status $STATUS"
[ $((t1 - t0)) -lt 3000 ] || fail "second SIGTERM: exited after $((t1 - t0)) ms"
logged "$T/d.log" 'SIGTERM again: exiting now' || fail "second SIGTERM not logged"
logged "$T/d.log" 'done after 5000' && fail "the second SIGTERM waited for the job"
held_is d 1 || fail "d holds $(held d), not the running job"
held_is workqd:handback 3 || fail "handback holds $(held workqd:handback)"
[ "$(xlen default)" -eq 4 ] || fail "$(xlen default) entries in the stream, not 4"
say "second SIGTERM: exit 0 after $((t1 - t0)) ms; 1 pending + 3 handed back = 4 pushed"

# 4. Redis frozen during the stop: the flush's deadline holds.
rcli DEL workq:default > /dev/null	# what case 3 left
conf "$T/e.yaml" e 2 500ms
workqd_start "$T/e.yaml" "$T/e.log"
E=$WQ_PID
workqd_wait_ready "$T/e.log"
push 1000
push 3700
two_started() { [ "$(grep -c 'started' "$T/e.log")" -eq 2 ]; }
wait_until 10 two_started || fail "e: the jobs did not start"
t0=$(now_ms)
kill -TERM "$E"
fetch_unblocked() {
	rcli CLIENT LIST | grep 'name=workqd-fetch' | grep -qv 'flags=b'
}
wait_until 5 fetch_unblocked || fail "e: fetching did not stop"
kill -STOP "$REDIS_PID"
# 500 ms, the 2 s cancel grace (the 3.7 s job ends in it... or after),
# the 2 s flush grace: out after about 4.5 s, Redis or not.
e_gone() { ! kill -0 "$E" 2>/dev/null; }
wait_until 10 e_gone || { kill -CONT "$REDIS_PID"; fail "e: still running 10 s after SIGTERM with Redis frozen"; }
t1=$(now_ms)
kill -CONT "$REDIS_PID"
wait_exit "$E"
[ "$STATUS" -eq 0 ] || fail "e: exit status $STATUS"
logged "$T/e.log" 'could not record every outcome in time' ||
    fail "e: the flush deadline was not logged"
[ "$(grep -c 'stopped cleanly' "$T/e.log")" -le 1 ] ||
    fail "e: the stop finished twice"
say "Redis frozen during the stop: exit 0 after $((t1 - t0)) ms at the flush deadline"
say "ok"
