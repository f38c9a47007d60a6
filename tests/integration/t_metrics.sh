#!/bin/sh
# The HTTP endpoint against a real daemon, read with Prometheus's own
# text-format parser (python3-prometheus-client): the counters move with
# the jobs pushed (done equals pushed, per plugin; each dead letter counted
# with its reason, also those the fetcher refuses; failures and timeouts),
# the histograms count every job that ran, and the counts reach Redis
# ({workq:default}:stats) and the registry.  /healthz answers 200, turns
# 503 with the reason when Redis stops, and 200 again when it is back.  A
# taken port leaves a daemon running without the endpoint; `http: off`
# starts none.
. "$(dirname "$0")/../lib.sh"

PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
    fail "$PY has no prometheus_client (apt install python3-prometheus-client)"

NECHO=200
NSLEEP=40

cat > "$T/prom.py" <<'EOF'
# prom.py PORT EXPR: exit 0 if the Python expression EXPR holds for a
# scrape of /metrics; v(name, **labels) sums the samples of that name whose
# labels include those given; hist(name) checks every histogram series.
# prom.py PORT --health: prints the status code and the body of /healthz.
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

port = sys.argv[1]


def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path),
                                    timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


if sys.argv[2] == "--health":
    code, _, body = get("/healthz")
    print(code, body.strip())
    sys.exit(0)

code, ctype, text = get("/metrics")
assert code == 200, code
assert ctype.startswith("text/plain; version=0.0.4"), ctype
samples = [s for f in text_string_to_metric_families(text) for s in f.samples]


def v(name, **labels):
    return sum(s.value for s in samples if s.name == name and
               all(s.labels.get(k) == x for k, x in labels.items()))


def hist(name):
    series = {}
    for s in samples:
        if s.name == name + "_bucket":
            key = tuple(sorted((k, x) for k, x in s.labels.items()
                               if k != "le"))
            series.setdefault(key, []).append(
                (float(s.labels["le"]), s.value))
    for key, buckets in series.items():
        counts = [c for _, c in sorted(buckets)]
        assert counts == sorted(counts), (name, key, "not cumulative")
        assert sorted(buckets)[-1][0] == float("inf"), (name, key)
        labels = dict(key)
        assert counts[-1] == v(name + "_count", **labels), (name, key)
    return True


ok = eval("(" + sys.argv[2] + "\n)")
if not ok and len(sys.argv) > 3:
    print(sys.argv[2], "is false", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF

prom() {
	"$PY" "$T/prom.py" "$PORT" "$@"
}
health() {
	"$PY" "$T/prom.py" "$PORT" --health
}
health_is() {
	[ "$(health | cut -c1-3)" = "$1" ]
}
port_of() {
	sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$1"
}

redis_start
config "$T/w.yaml" \
    -e 's|^heartbeat: 2s|heartbeat: 250ms|' -e 's|^consumer: ""|consumer: m1|'
workqd_start "$T/w.yaml"
M1_PID=$WQ_PID
wait_until 10 grep -q 'http: listening on 127.0.0.1:' "$T/workqd.log" ||
    fail "no 'http: listening' line"
PORT=$(port_of "$T/workqd.log")
wait_until 10 health_is 200 || fail "/healthz: $(health)"
[ "$(health)" = "200 ok" ] || fail "/healthz said: $(health)"
# The figures of the daemon itself.
prom 'v("workqd_workers") == 8 and v("workqd_local_queue_capacity") == 64 and
    v("workqd_executor_threads") == 4 and v("workqd_redis_up") == 1 and
    v("workqd_build_info", version="0.1.0") == 1' show ||
    fail "the daemon's gauges are wrong"
prom 'v("workqd_jobs_done_total") == 0' || fail "jobs done before any push"

# The jobs: echo and sleep ones that succeed, one that sleep rejects, one
# that times out (no retries left), three dead letters: expired, unknown
# plugin (refused by a worker), no payload (refused by the fetcher).
i=0
while [ $i -lt $NECHO ]; do
	echo "XADD workq:default * payload echo-$i"
	i=$((i + 1))
done > "$T/push.txt"
i=0
while [ $i -lt $NSLEEP ]; do
	echo "XADD workq:default * plugin sleep payload $((i % 3))"
	i=$((i + 1))
done >> "$T/push.txt"
cat >> "$T/push.txt" <<EOF
XADD workq:default * plugin sleep payload nope
XADD workq:default * plugin sleep payload 1500 timeout 100 retries 0
XADD workq:default * payload late expires 1
XADD workq:default * plugin nosuch payload x
XADD workq:default * nopayload x
EOF
rcli < "$T/push.txt" > /dev/null
say "pushed $((NECHO + NSLEEP + 5)) jobs"

STARTED=$((NECHO + NSLEEP + 2))
all_counted() {
	prom "v('workqd_jobs_done_total', plugin='echo') == $NECHO and
	    v('workqd_jobs_done_total', plugin='sleep') == $NSLEEP and
	    v('workqd_jobs_dead_total') == 5"
}
wait_until 60 all_counted ||
    fail "the counters did not reach the jobs pushed: $(prom 'print([(s.name, s.labels, s.value) for s in samples if s.name.startswith("workqd_jobs")]) or True')"

prom 'v("workqd_jobs_done_total", queue="default") == '$((NECHO + NSLEEP)) show ||
    fail "done is not the number of successful jobs"
prom 'v("workqd_jobs_failed_total", plugin="sleep") == 2 and
    v("workqd_jobs_failed_total", plugin="echo") == 0' show ||
    fail "failed attempts miscounted"
prom 'v("workqd_jobs_timed_out_total", plugin="sleep") == 1 and
    v("workqd_jobs_retried_total") == 0' show || fail "timeouts miscounted"
prom 'v("workqd_jobs_dead_total", queue="default", reason="rejected") == 1 and
    v("workqd_jobs_dead_total", reason="exhausted") == 1 and
    v("workqd_jobs_dead_total", reason="expired") == 1 and
    v("workqd_jobs_dead_total", reason="invalid") == 2 and
    v("workqd_jobs_dead_total", reason="poison") == 0 and
    v("workqd_jobs_expired_total", queue="default") == 1' show ||
    fail "dead letters miscounted by reason"
# Every job that ran is in both histograms, once.
prom 'hist("workqd_job_run_seconds") and hist("workqd_job_wait_seconds") and
    v("workqd_job_run_seconds_count") == '$STARTED' and
    v("workqd_job_wait_seconds_count") == '$STARTED' and
    v("workqd_job_run_seconds_count", plugin="echo") == '$NECHO show ||
    fail "the histograms do not count every job"
# Quick sleeps stay under 50 ms; the timed-out job ran until its timeout.
prom 'v("workqd_job_run_seconds_bucket", plugin="sleep", le="0.05") >= '$NSLEEP' and
    v("workqd_job_run_seconds_sum", plugin="sleep") >= 0.1' show ||
    fail "run times are off"
wait_until 10 prom 'v("workqd_pending_entries", queue="default") == 0 and
    v("workqd_pending_oldest_age_seconds", queue="default") == 0' ||
    fail "pending entries not reported"

# The same counts in Redis, summed by the reports, and the registry.
stat() {
	rcli HGET '{workq:default}:stats' "$1"
}
wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK HGET '{workq:default}:stats' done)\" = $((NECHO + NSLEEP)) ]" ||
    fail "{workq:default}:stats done is $(stat done), not $((NECHO + NSLEEP))"
wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK HGET '{workq:default}:stats' dead)\" = 5 ]" ||
    fail "{workq:default}:stats dead is $(stat dead)"
[ "$(stat failed)" = 2 ] && [ "$(stat timed_out)" = 1 ] && [ "$(stat expired)" = 1 ] ||
    fail "stats: failed $(stat failed) timed_out $(stat timed_out) expired $(stat expired)"
[ "$(rcli HGET '{workq}:daemon:m1' capacity)" = 8 ] ||
    fail "registry: $(rcli HGETALL '{workq}:daemon:m1')"
[ "$(rcli ZSCORE '{workq}:daemons' m1)" != "" ] || fail "not in {workq}:daemons"

# Redis goes away: 503 with the reason; it comes back: 200.
redis_stop
wait_until 10 health_is 503 || fail "/healthz still says $(health) with Redis down"
health | grep -q '^503 redis: ' || fail "/healthz 503 without the reason: $(health)"
prom 'v("workqd_redis_up") == 0' || fail "workqd_redis_up is not 0"
say "with Redis down: $(health)"
redis_start
wait_until 30 health_is 200 || fail "/healthz did not come back: $(health)"
prom 'v("workqd_redis_up") == 1 and v("workqd_redis_reconnects_total") >= 2' show ||
    fail "reconnects not counted"

# A second daemon whose port is taken runs on without the endpoint; a
# third with `enabled: false` opens none.  Both still work jobs.
config "$T/taken.yaml" -e "s|listen: 127.0.0.1:0 |listen: 127.0.0.1:$PORT |" \
    -e 's|^consumer: ""|consumer: m2|'
workqd_start "$T/taken.yaml" "$T/taken.log"
TAKEN_PID=$WQ_PID
config "$T/off.yaml" -e 's|^  enabled: true|  enabled: false|' \
    -e 's|^consumer: ""|consumer: m3|'
workqd_start "$T/off.yaml" "$T/off.log"
wait_until 10 grep -q "http: cannot listen on 127.0.0.1:$PORT: Address already in use" "$T/taken.log" ||
    fail "no 'cannot listen' line: $(cat "$T/taken.log")"
wait_until 10 grep -q 'consumer m3' "$T/off.log" || fail "the http: off daemon did not start"
grep -q 'http:' "$T/off.log" && fail "http: off still mentions http: $(cat "$T/off.log")"
wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK ZCARD '{workq}:daemons')\" = 3 ]" ||
    fail "not 3 daemons registered: $(rcli ZRANGE '{workq}:daemons' 0 -1)"
kill -9 "$TAKEN_PID"
{ wait_exit "$TAKEN_PID"; } 2>/dev/null

# A clean stop leaves the registry at once; a killed daemon expires.
kill -TERM "$M1_PID"
wait_exit "$M1_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
[ "$(rcli EXISTS '{workq}:daemon:m1')" = 0 ] || fail "m1 still registered after its stop"
[ "$(rcli ZSCORE '{workq}:daemons' m1)" = "" ] || fail "m1 still in {workq}:daemons"
wait_until 20 sh -c "[ \"\$(redis-cli -s $SOCK EXISTS '{workq}:daemon:m2')\" = 0 ]" ||
    fail "the killed daemon's registry did not expire"
say "ok: counters, histograms, stats in Redis, /healthz 200 -> 503 -> 200"
