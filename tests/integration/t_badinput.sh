#!/bin/sh
# Bad input never crashes and never loses the entry: each malformed entry
# goes to the dead letters with a reason naming the field and why, and the
# good jobs around it run.  Expiry: a job not started by `expires` is
# dead-lettered as expired, also when it waited behind a long job.
. "$(dirname "$0")/../lib.sh"

REC=$T/runs
plugins lifecycle
yaml_config "$T/w.yaml" <<EOF
workers: 1
plugins:
  lifecycle: { file: $REC }
queues:
  - name: default
    plugin: lifecycle
    max_payload: 100
EOF
redis_start
workqd_start "$T/w.yaml"
workqd_wait_ready

big=$(head -c 150 /dev/zero | tr '\0' x)
past=$(( $(date +%s) - 10 ))
rcli XADD workq:default '*' id nopayload other 1 >/dev/null
rcli XADD workq:default '*' id noplugin payload ok plugin nosuch >/dev/null
rcli XADD workq:default '*' id badname payload ok plugin 'Bad/Name' >/dev/null
rcli XADD workq:default '*' id big payload "$big" >/dev/null
rcli XADD workq:default '*' id timeout payload ok timeout soon >/dev/null
rcli XADD workq:default '*' id at payload ok at tomorrow >/dev/null
rcli XADD workq:default '*' id retries payload ok retries -1 >/dev/null
rcli XADD workq:default '*' id delay payload ok delay 1.5.5 >/dev/null
rcli XADD workq:default '*' id both payload ok at 1 delay 1 >/dev/null
rcli XADD workq:default '*' id twice payload ok timeout 100 timeout 200 >/dev/null
rcli XADD workq:default '*' id expired payload ok expires "$past" >/dev/null
rcli XADD workq:default '*' id good payload ok >/dev/null

wait_until 10 grep -q '^good ' "$REC" || fail "the good job did not run"
wait_until 10 sh -c "[ \$(redis-cli -s $SOCK XLEN '{workq:default}:dead') -ge 11 ]" ||
    fail "only $(rcli XLEN '{workq:default}:dead') of 11 bad entries were dead-lettered"

# dead ID FIELD: a field of the dead entry whose `id` is ID.
rcli XRANGE '{workq:default}:dead' - + > "$T/dead"
dead() {
	awk -v id="$1" -v k="$2" '
	    prev == "id" { cur = $0 }
	    cur == id && prev == k { print; exit }
	    { prev = $0 }' "$T/dead"
}
expect() {
	[ "$(dead "$1" dead.reason)" = "$2" ] ||
	    fail "$1: dead.reason is '$(dead "$1" dead.reason)', not $2"
	dead "$1" dead.error | grep -q -- "$3" ||
	    fail "$1: dead.error is '$(dead "$1" dead.error)', expected /$3/"
}
expect nopayload invalid "^field 'payload': missing$"
expect noplugin invalid "^field 'plugin': no plugin 'nosuch' is loaded$"
expect badname invalid "^field 'plugin': expected a plugin name"
expect big invalid "^field 'payload': 150 bytes, over the limit of 100$"
expect timeout invalid "^field 'timeout': expected milliseconds or a duration such as 30s, got 'soon'$"
expect at invalid "^field 'at': expected a Unix time in seconds, got 'tomorrow'$"
expect retries invalid "^field 'retries': expected a number from 0 to 1000, got '-1'$"
expect delay invalid "^field 'delay': "
expect both invalid "^field 'delay': 'at' and 'delay' both given"
expect twice invalid "^field 'timeout': given twice"
expect expired expired "not started before it expired"
[ "$(dead big payload)" = "$big" ] || fail "the oversized payload was not kept"
[ "$(dead nopayload other)" = 1 ] || fail "the entry's own fields were not kept"
[ "$(awk '$1 != "good"' "$REC" | wc -l)" -eq 0 ] || fail "a bad entry ran"

# Expires while it waits behind a long job (one worker).
exp=$(python3 -c 'import time; print("%.3f" % (time.time() + 0.5))')
rcli XADD workq:default '*' id long payload hold:1500 >/dev/null
rcli XADD workq:default '*' id waiter payload ok expires "$exp" >/dev/null
wait_until 10 sh -c "redis-cli -s $SOCK XRANGE '{workq:default}:dead' - + | grep -qx waiter" ||
    fail "a job that expired while waiting was not dead-lettered"
grep -q '^waiter ' "$REC" && fail "an expired job ran"

kill -0 "$WQ_PID" || fail "workqd died"
[ "$(pending default)" = 0 ] || fail "entries still pending"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
say "ok"
