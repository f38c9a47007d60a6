#!/bin/sh
# Retries: a failing job is retried with full-jitter backoff up to its
# retries (entry field over queue setting), then dead-lettered as
# exhausted with its last error; WQ_DEAD fails for good at once; a retry
# asked for with a delay honours it; the dead-letter stream is capped.
. "$(dirname "$0")/../lib.sh"

REC=$T/runs
plugins lifecycle
yaml_config "$T/w.yaml" <<EOF
plugins:
  lifecycle: { file: $REC }
queues:
  - name: default
    plugin: lifecycle
    retries: 3
    dead_max: 3
    backoff: { base: 200ms, factor: 2, cap: 1s }
EOF
redis_start
workqd_start "$T/w.yaml"
workqd_wait_ready

push() {
	rcli XADD workq:default '*' "$@" >/dev/null
}
push id fail payload fail
push id until3 payload failuntil:3
push id dead payload dead
push id later payload retry:300 retries 2
push id once payload fail retries 1
for i in 1 2 3 4; do push id "dead$i" payload dead; done

# fail: 4 runs; until3: 3; dead: 1; later: 3; once: 2; dead1..4: 1 each.
wait_until 30 sh -c "[ \$(wc -l < $REC) -ge 17 ]" ||
    fail "only $(records "$REC") runs recorded"
wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK XPENDING workq:default workqd | head -1)\" = 0 ]" ||
    fail "entries still pending"

runs() {
	awk -v id="$1" '$1 == id' "$REC" | wc -l
}
[ "$(runs fail)" -eq 4 ] || fail "fail ran $(runs fail) times, not 4 (1 + 3 retries)"
[ "$(runs until3)" -eq 3 ] || fail "failuntil:3 ran $(runs until3) times, not 3"
[ "$(runs dead)" -eq 1 ] || fail "a WQ_DEAD job ran $(runs dead) times"
[ "$(runs later)" -eq 3 ] || fail "retry:300 with retries 2 ran $(runs later) times"
[ "$(runs once)" -eq 2 ] || fail "the entry's retries 1 gave $(runs once) runs"

# Attempts are numbered 1, 2, 3, 4.
[ "$(awk '$1 == "fail" { printf "%s", $2 }' "$REC")" = 1234 ] ||
    fail "attempts of 'fail': $(awk '$1 == "fail" { printf "%s ", $2 }' "$REC")"

# Backoff: the wait before retry n is at most min(1s, 200ms * 2^(n-1)) plus
# scheduling slack (100 ms) and never negative; retry:300 waits >= 300 ms.
awk '$1 == "fail" { if (prev != "") print $3 - prev; prev = $4 }' "$REC" > "$T/gaps"
n=1
while read -r gap; do
	ceil=$((200 << (n - 1)))
	[ "$ceil" -le 1000 ] || ceil=1000
	[ "$gap" -ge 0 ] && [ "$gap" -le $((ceil + 100)) ] ||
	    fail "retry $n of 'fail' waited $gap ms; its backoff ceiling is $ceil ms"
	n=$((n + 1))
done < "$T/gaps"
awk '$1 == "later" { if (prev != "") print $3 - prev; prev = $4 }' "$REC" |
while read -r gap; do
	[ "$gap" -ge 300 ] && [ "$gap" -le 400 ] ||
	    fail "retry:300 waited $gap ms before its retry"
done

# Dead letters: capped at dead_max (3), newest kept, with reason and error.
[ "$(rcli XLEN '{workq:default}:dead')" -eq 3 ] ||
    fail "the dead-letter stream holds $(rcli XLEN '{workq:default}:dead') entries; dead_max is 3"
rcli XADD workq:default '*' id fail2 payload fail retries 0 >/dev/null
wait_until 10 sh -c "redis-cli -s $SOCK XREVRANGE '{workq:default}:dead' + - COUNT 1 | grep -qx fail2" ||
    fail "fail2 did not reach the dead letters"
rcli XREVRANGE '{workq:default}:dead' + - COUNT 1 > "$T/last"
field() {
	awk -v k="$1" 'prev == k { print; exit } { prev = $0 }' "$T/last"
}
[ "$(field dead.reason)" = exhausted ] || fail "dead.reason is $(field dead.reason)"
[ "$(field dead.error)" = "asked to fail" ] || fail "dead.error is $(field dead.error)"
[ "$(field dead.attempts)" = 1 ] || fail "dead.attempts is $(field dead.attempts)"
[ "$(field payload)" = fail ] || fail "the dead entry lost its payload"
[ -n "$(field dead.failed_at)" ] || fail "no dead.failed_at"

[ "$(rcli ZCARD '{workq:default}:scheduled')" -eq 0 ] || fail "scheduled set not empty"
[ "$(xlen default)" -eq 0 ] || fail "stream not empty"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
say "ok"
