#!/bin/sh
# Timeouts.  The entry's timeout wins over the queue's, which wins over the
# plugin's default.  An async handler that overruns is cancelled through
# its cancel hook.  A blocking handler that overruns counts as timed out at
# the deadline and sees the cancelled flag; its worker moves on while its
# executor thread stays held (logged), and the executor never runs more
# threads than its size.
. "$(dirname "$0")/../lib.sh"

REC=$T/runs
AREC=$T/aruns
plugins lifecycle alifecycle
yaml_config "$T/w.yaml" <<EOF
workers: 4
executor: { threads: 2 }
plugins:
  lifecycle: { file: $REC }
  alifecycle: { file: $AREC }
queues:
  - name: default
    plugin: lifecycle
    retries: 0
  - name: short
    plugin: lifecycle
    timeout: 400ms
    retries: 0
EOF
redis_start
workqd_start "$T/w.yaml"
workqd_wait_ready

dead_error() {
	rcli XRANGE '{workq:'"$1"'}:dead' - + |
	    awk -v id="$2" '$0 == id { hit = 1 } hit && prev == "dead.error" { print; exit } { prev = $0 }'
}
wait_dead() {
	wait_until "$3" sh -c "redis-cli -s $SOCK XRANGE '{workq:$1}:dead' - + | grep -qx '$2'" ||
	    fail "$2 was not dead-lettered"
}

# Which timeout applies: the plugin's default (lifecycle: 5 s), the
# queue's (400 ms), the entry's (200 ms).
rcli XADD workq:default '*' id plugin-default payload sleep:8000 >/dev/null
rcli XADD workq:short '*' id queue-timeout payload sleep:8000 >/dev/null
rcli XADD workq:short '*' id entry-timeout payload sleep:8000 timeout 200 >/dev/null
wait_dead short entry-timeout 5
wait_dead short queue-timeout 5
[ "$(dead_error short entry-timeout)" = "timed out after 200 ms" ] ||
    fail "entry-timeout: $(dead_error short entry-timeout)"
[ "$(dead_error short queue-timeout)" = "timed out after 400 ms" ] ||
    fail "queue-timeout: $(dead_error short queue-timeout)"
wait_dead default plugin-default 10
[ "$(dead_error default plugin-default)" = "timed out after 5000 ms" ] ||
    fail "plugin-default: $(dead_error default plugin-default)"
# sleep:N polls the cancelled flag: each handler that started saw it and
# returned early.  (entry-timeout waited for one of the two executor
# threads and timed out before it started: like wait_for(to_thread()), the
# clock runs from dispatch.)
for id in queue-timeout plugin-default; do
	wait_until 2 grep -q "^$id " "$REC" || fail "$id did not return when cancelled"
done

# An async handler that never finishes is cancelled through its hook.
rcli XADD workq:short '*' id hang plugin alifecycle payload hang >/dev/null
wait_dead short hang 5
grep -q '^hang 1 [0-9]* cancelled$' "$AREC" || fail "the cancel hook did not run"
[ "$(dead_error short hang)" = "timed out after 400 ms" ] ||
    fail "hang: $(dead_error short hang)"

# Two blocking handlers that ignore cancellation hold both executor
# threads past their deadline.  The workers move on: an async job runs at
# once.  A blocking job must wait for a thread: it cannot start before one
# of the holders returns, 1500 ms after it started.
: > "$REC"
rcli XADD workq:short '*' id hold1 payload hold:1500 >/dev/null
rcli XADD workq:short '*' id hold2 payload hold:1500 >/dev/null
wait_dead short hold1 5
wait_dead short hold2 5
wait_until 5 grep -q '2 executor thread(s) held by overrunning handlers' "$T/workqd.log" ||
    fail "the held executor threads were not logged"
before=$(date +%s%3N)
rcli XADD workq:short '*' id async plugin alifecycle payload ok >/dev/null
wait_until 5 grep -q '^async ' "$AREC" || fail "an async job did not run while threads were held"
rcli XADD workq:short '*' id after payload ok timeout 5s >/dev/null
wait_until 5 grep -q '^after ' "$REC" || fail "the blocking job never ran"
# The first holder to return frees a thread.
held_end=$(awk '$1 == "hold1" || $1 == "hold2" { if (m == "" || $4 < m) m = $4 } END { print m }' "$REC")
after_start=$(awk '$1 == "after" { print $3 }' "$REC")
async_at=$(awk '$1 == "async" { print $3 }' "$AREC")
[ "$async_at" -lt "$held_end" ] ||
    fail "the async job waited for the held threads ($async_at >= $held_end)"
[ "$after_start" -ge "$held_end" ] ||
    fail "a third blocking job ran while both threads were held: the executor ran more threads than its size"
[ "$before" -lt "$held_end" ] || fail "the holders ended before the test could look (slow machine?)"

kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
say "ok"
