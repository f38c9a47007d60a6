#!/bin/sh
# The http plugin against a webhook endpoint started here on loopback
# (httpd.py), told by each job's field "answer" what to reply:
#   - 2xx is done; the request is a POST of the payload to the URL, with
#     the configured headers, X-Workq-Job-Id/-Queue/-Attempt and the fields
#     as X-Workq-<Field> (none with CR or LF);
#   - 404 is dead-lettered with "HTTP 404 Not Found";
#   - 429 is retried after its Retry-After (seconds, and an HTTP-date): the
#     retry is scheduled that far ahead in {workq:default}:scheduled;
#   - 500 is retried;
#   - a server that never answers: retried after `timeout`, the connection
#     closed; a job timeout shorter than that cancels the request;
#   - a response racing the timeout completes the job once;
#   - a refused connection (to localhost, resolved with evdns) and one that
#     hangs in SYN-SENT (connect_timeout) are retried with the reason;
#   - workqd -t refuses an https URL.
. "$(dirname "$0")/../lib.sh"

redis_start
python3 "$TOP/tests/integration/httpd.py" "$T" > "$T/httpd.log" 2>&1 &
track $!
wait_until 10 test -s "$T/port" || fail "the test HTTP server did not start"
PORT=$(cat "$T/port")
HOLE=$(cat "$T/blackhole")
CLOSED=$(free_port)

# http_config FILE URL: the sample config with the http plugin added.
http_config() {
	config "$1" -e 's|level: info|level: debug|' \
	    -e 's|max_payload: 1048576|max_payload: 16777216|' \
	    -e "s|^  sleep: {}|  sleep: {}\n  http: {url: \"$2\", connect_timeout: 500ms, timeout: 2s, headers: {Authorization: Bearer t0k, X-Extra: \"yes\"}}|"
}

http_config "$T/https.yaml" "https://127.0.0.1:$PORT/hook"
set +e
"$WORKQD" -t -c "$T/https.yaml" > "$T/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "-t on an https URL: exit $rc: $(cat "$T/out")"
grep -q "^$T/https.yaml:[0-9]*:[0-9]*: url: https://127.0.0.1:$PORT/hook: https is not supported" \
    "$T/out" || fail "-t on an https URL said: $(cat "$T/out")"

http_config "$T/w.yaml" "http://127.0.0.1:$PORT/hook?x=1"
"$WORKQD" -t -c "$T/w.yaml" > "$T/out" 2>&1 || fail "-t: $(cat "$T/out")"
workqd_start "$T/w.yaml"
workqd_wait_ready

# job ID ANSWER [fields...]: pushes a job for the http plugin.
job() {
	id=$1
	answer=$2
	shift 2
	rcli XADD workq:default '*' plugin http id "$id" answer "$answer" "$@" \
	    payload "body of $id" >/dev/null
}
logged() {
	grep -q "$1" "$T/workqd.log"
}
# retry_in ID: the delay the worker logged for attempt 1 of job ID.
retry_in() {
	sed -n "s/^<4>job $1 (attempt 1) failed: .*; retry in \([0-9-]*\) ms$/\1/p" \
	    "$T/workqd.log"
}
# scheduled_in ID: how far ahead of Redis's clock job ID's retry is due.
scheduled_in() {
	now=$(rcli TIME | head -n 1)
	score=$(rcli ZSCAN '{workq:default}:scheduled' 0 MATCH "*$1*" COUNT 1000 |
	    tail -n 1)
	echo $(( ${score%.*} - now * 1000 ))
}
between() {
	[ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}
# The worker logs the retry before the settler has written it to Redis.
scheduled_between() {
	between "$(scheduled_in "$1")" "$2" "$3"
}

# 2xx, and everything about the request.
printf '%s\n' 'XADD workq:default * plugin http id ok answer 201 trace_id abc "weird name!" v crlf "a\r\nb" payload "hello\x00world"' |
    rcli >/dev/null
wait_until 10 logged 'job ok done in' || fail "the 201 job was not done"
python3 - "$T/requests.jsonl" "$PORT" > "$T/check.txt" 2>&1 <<'EOF' ||
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
r = [r for r in reqs if ["X-Workq-Job-Id", "ok"] in r.get("headers", [])][0]
h = {}
for k, v in r["headers"]:
    assert k.lower() not in h, "header %s sent twice" % k
    h[k.lower()] = v
want = {
    "host": "127.0.0.1:" + sys.argv[2], "connection": "close",
    "content-type": "application/octet-stream", "content-length": "11",
    "authorization": "Bearer t0k", "x-extra": "yes",
    "x-workq-job-id": "ok", "x-workq-queue": "default",
    "x-workq-attempt": "1", "x-workq-answer": "201",
    "x-workq-plugin": "http", "x-workq-id": "ok",
    "x-workq-trace-id": "abc", "x-workq-weird-name-": "v",
}
for k, v in want.items():
    assert h.get(k) == v, "%s: %r, expected %r" % (k, h.get(k), v)
assert "x-workq-crlf" not in h, "a value with CR LF was sent"
assert "x-workq-payload" not in h, "the payload went as a header"
assert r["method"] == "POST" and r["path"] == "/hook?x=1", r["path"]
assert r["body"] == "hello\0world", repr(r["body"])
EOF
    fail "the request: $(cat "$T/check.txt")"
say "2xx: done; method, path, body and headers as specified"

job r404 404
job r429s 429:30
job r429d 429:date:40
job r500 500
job hang hang
job cancel hang timeout 700
job race sleep:2050:200 retries 0

wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK XLEN '{workq:default}:dead')\" = 1 ]" ||
    fail "the 404 job was not dead-lettered"
rcli XRANGE '{workq:default}:dead' - + > "$T/dead.txt"
grep -A1 -x 'dead.error' "$T/dead.txt" | grep -qx 'HTTP 404 Not Found' ||
    fail "dead.error: $(cat "$T/dead.txt")"
grep -A1 -x 'dead.reason' "$T/dead.txt" | grep -qx 'rejected' ||
    fail "dead.reason: $(cat "$T/dead.txt")"
say "404: dead-lettered with the status"

wait_until 10 logged 'job r429s (attempt 1) failed: HTTP 429 Too Many Requests; retry in' ||
    fail "429 was not retried"
between "$(retry_in r429s)" 29000 30000 ||
    fail "429 with Retry-After: 30 retried in $(retry_in r429s) ms"
wait_until 5 scheduled_between r429s 25000 30000 ||
    fail "429's retry is due in $(scheduled_in r429s) ms, not about 30 s"
wait_until 10 logged 'job r429d (attempt 1) failed: HTTP 429 Too Many Requests; retry in' ||
    fail "429 with an HTTP-date was not retried"
between "$(retry_in r429d)" 37000 40000 ||
    fail "429 with an HTTP-date 40 s ahead retried in $(retry_in r429d) ms"
wait_until 5 scheduled_between r429d 33000 40000 ||
    fail "429 (HTTP-date)'s retry is due in $(scheduled_in r429d) ms"
say "429: retried after Retry-After, seconds and HTTP-date"

# (Retried with the backoff: its retry may be due at once, so it may be
# gone from the scheduled set already.)
wait_until 10 logged 'job r500 (attempt 1) failed: HTTP 500 Internal Server Error; retry in' ||
    fail "500 was not retried"
say "500: retried"

wait_until 10 logged "job hang (attempt 1) failed: no response from 127.0.0.1:$PORT within 2000 ms; retry in" ||
    fail "a server that never answers: not retried after the timeout"
wait_until 5 grep -q '"closed": "hang"' "$T/requests.jsonl" ||
    fail "the hung request's connection was not closed"
wait_until 10 logged 'job cancel (attempt 1) failed: timed out after 700 ms; retry in' ||
    fail "the job timeout did not end the hung request"
wait_until 5 grep -q '"closed": "cancel"' "$T/requests.jsonl" ||
    fail "cancel did not close the request's connection"
say "no answer: retried after timeout; job timeout cancels the request"

# A server that hangs up without reading an 8 MB body: the write fails with
# EPIPE; SIGPIPE must not kill workqd.
head -c 8000000 /dev/zero | tr '\0' a |
    rcli -x XADD workq:default '*' plugin http id slam answer slam payload >/dev/null
wait_until 10 logged 'job slam (attempt 1) failed: .*; retry in' ||
    fail "the job whose server hung up was not retried"
kill -0 "$WQ_PID" 2>/dev/null || fail "workqd died when the server hung up"
say "a server hanging up mid-body: retried, workqd alive ($(sed -n \
    's/^<4>job slam (attempt 1) failed: \(.*\); retry in.*/\1/p' "$T/workqd.log"))"

# retries 0: its first outcome is its last, whichever side wins.
race_end='job race \(done in\|dead-lettered\)'
wait_until 10 grep -q "$race_end" "$T/workqd.log" || fail "the racing job did not end"
n=$(grep -c "$race_end" "$T/workqd.log")
[ "$n" -eq 1 ] || fail "the racing job ended $n times"
! logged 'completed twice' || fail "a job was completed twice"
say "a response racing the timeout: one outcome ($(grep -o "$race_end" "$T/workqd.log"))"

kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"

# Refused, through a host name resolved by evdns.
http_config "$T/refused.yaml" "http://localhost:$CLOSED/"
workqd_start "$T/refused.yaml" "$T/refused.log"
workqd_wait_ready "$T/refused.log"
job refused 200
wait_until 10 grep -q "job refused (attempt 1) failed: localhost:$CLOSED: cannot connect; retry in" \
    "$T/refused.log" || fail "a refused connection was not retried with the reason"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"

# A connection that hangs in SYN-SENT: connect_timeout.
http_config "$T/hole.yaml" "http://127.0.0.1:$HOLE/"
workqd_start "$T/hole.yaml" "$T/hole.log"
workqd_wait_ready "$T/hole.log"
job hole 200
wait_until 10 grep -q "job hole (attempt 1) failed: connect to 127.0.0.1:$HOLE timed out after 500 ms; retry in" \
    "$T/hole.log" || fail "a connection that never completes was not retried"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
say "refused and unanswered connections: retried with the reason"
say "ok"
