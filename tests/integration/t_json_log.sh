#!/bin/sh
# Logs (issue 6.7): by default each line carries its journald priority
# prefix ("<6>..."); with log.format json every line on stderr is one JSON
# object, and the line that ends a job carries its id, queue, plugin,
# attempt, duration and outcome (done, dead, timeout), with quotes,
# backslashes and control characters escaped.  Lines are parsed with
# python3's json module.
. "$(dirname "$0")/../lib.sh"

LOG=$T/workqd.log
redis_start

# The default: journald priority prefixes on every line.
config "$T/j.yaml"
workqd_start "$T/j.yaml" "$T/journal.log"
workqd_wait_ready "$T/journal.log"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
bad=$(grep -cv '^<[3-7]>' "$T/journal.log" || true)
[ "$bad" -eq 0 ] || fail "$bad line(s) without a priority prefix"

config "$T/w.yaml" -e 's|level: info|level: debug|' -e 's|format: journal|format: json|'
workqd_start "$T/w.yaml" "$LOG"
wait_until 10 grep -q '"message":"workqd .*consumer ' "$LOG" || fail "workqd did not start"

rcli XADD workq:default '*' id 'ok-"1"\' payload 'say "hi" \ there' >/dev/null
rcli XADD workq:default '*' id dead-1 plugin sleep payload nonsense >/dev/null
rcli XADD workq:default '*' id slow-1 plugin sleep timeout 100 payload 5000 >/dev/null
outcomes() {
	grep -c '"outcome":' "$LOG" || true
}
three() {
	[ "$(outcomes)" -ge 3 ]
}
wait_until 10 three || fail "only $(outcomes) job lines"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"

python3 - "$LOG" <<'EOF' || fail "the JSON log lines are not what they should be"
import json, sys

jobs = {}
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "no lines"
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
    assert isinstance(o, dict), "line %d: not an object" % n
    assert o.get("priority") in (3, 4, 5, 6, 7), "line %d: priority" % n
    assert isinstance(o.get("message"), str), "line %d: message" % n
    if "outcome" in o:
        jobs.setdefault(o["job"], o)        # the first attempt

def check(job, plugin, outcome, prio, min_ms=0):
    o = jobs.get(job)
    assert o is not None, "no job line for %r in %r" % (job, sorted(jobs))
    assert o["queue"] == "default", o
    assert o["plugin"] == plugin, o
    assert o["attempt"] == 1, o
    assert isinstance(o["duration_ms"], int) and o["duration_ms"] >= min_ms, o
    assert o["outcome"] == outcome, o
    assert o["priority"] == prio, o
    assert job in o["message"], o

check('ok-"1"\\', "echo", "done", 7)
check("dead-1", "sleep", "dead", 4)
check("slow-1", "sleep", "timeout", 4, 50)
echo = [json.loads(l) for l in lines if '"message":"echo: job ' in l]
assert echo and echo[0]["message"].endswith('say "hi" \\ there'), echo
EOF
say "ok: priority prefixes by default; json lines parse, job lines carry id, queue, plugin, attempt, duration, outcome"
