#!/bin/sh
# Several queues in one daemon: strict priority (the first queue listed is
# drained first), weights (a 3:1 weighting gives about 3:1), a concurrency
# limit per queue inside the shared worker pool, and each queue's own
# default plugin.
. "$(dirname "$0")/../lib.sh"

REC=$T/runs
AREC=$T/aruns
plugins lifecycle alifecycle
redis_start

# fill QUEUE N PAYLOAD: N jobs, pushed before the daemon starts.
fill() {
	i=0
	while [ $i -lt "$2" ]; do
		echo "XADD workq:$1 * id $1-$i payload $3"
		i=$((i + 1))
	done | rcli > /dev/null
}

# Strict: high is drained before low is touched, although low was pushed
# first.  One worker and a small prefetch make the order observable.
yaml_config "$T/strict.yaml" <<EOF
workers: 1
prefetch: 4
queue_order: strict
plugins:
  lifecycle: { file: $REC }
queues:
  - { name: high, plugin: lifecycle }
  - { name: low, plugin: lifecycle }
EOF
fill low 50 ok
fill high 50 ok
workqd_start "$T/strict.yaml"
wait_until 20 sh -c "[ \$(wc -l < $REC) -ge 100 ]" || fail "strict: $(records "$REC") of 100 ran"
first_low=$(awk '$5 == "low" { print NR; exit }' "$REC")
last_high=$(awk '$5 == "high" { n = NR } END { print n }' "$REC")
[ "$last_high" -lt "$first_low" ] ||
    fail "strict: a low job (run $first_low) ran before the last high one (run $last_high)"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"

# Weighted 3:1 over a backlog in both: about three a-jobs per b-job
# (both queues stay backlogged for the first 200 runs).
: > "$REC"
yaml_config "$T/weighted.yaml" <<EOF
workers: 1
prefetch: 1
queue_order: weighted
plugins:
  lifecycle: { file: $REC }
queues:
  - { name: wa, plugin: lifecycle, weight: 3 }
  - { name: wb, plugin: lifecycle, weight: 1 }
EOF
fill wa 200 ok
fill wb 200 ok
workqd_start "$T/weighted.yaml"
wait_until 30 sh -c "[ \$(wc -l < $REC) -ge 200 ]" || fail "weighted: $(records "$REC") ran"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"
a=$(head -n 200 "$REC" | awk '$5 == "wa"' | wc -l)
b=$(head -n 200 "$REC" | awk '$5 == "wb"' | wc -l)
say "weighted 3:1 -> $a:$b in the first 200 runs"
[ "$a" -ge $((2 * b)) ] && [ "$a" -le $((5 * b)) ] ||
    fail "weighted 3:1 gave $a:$b"

# A limit of 2 for one queue in a pool of 8 workers, while another queue
# keeps the rest of the pool busy; and a queue whose default plugin is the
# async one.
: > "$REC"
yaml_config "$T/limit.yaml" <<EOF
workers: 8
executor: { threads: 8 }
plugins:
  lifecycle: { file: $REC }
  alifecycle: { file: $AREC }
queues:
  - { name: limited, plugin: lifecycle, concurrency: 2 }
  - { name: free, plugin: alifecycle }
EOF
fill limited 20 concurrent:150
fill free 30 later:200
workqd_start "$T/limit.yaml"
wait_until 30 sh -c "[ \$(wc -l < $REC) -ge 20 ]" || fail "limited: $(records "$REC") of 20 ran"
wait_until 10 sh -c "[ \$(wc -l < $AREC) -ge 30 ]" || fail "free: $(records "$AREC") of 30 ran"
peak=$(awk '{ if ($6 > m) m = $6 } END { print m }' "$REC")
say "queue with concurrency 2: at most $peak ran at once"
[ "$peak" -le 2 ] || fail "concurrency 2 was exceeded: $peak ran at once"
[ "$peak" -eq 2 ] || fail "concurrency 2 was never reached (peak $peak): the test proves nothing"
grep -q '^free-0 1 [0-9]* done$' "$AREC" || fail "the free queue's default plugin did not run its jobs"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
say "ok"
