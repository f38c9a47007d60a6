#!/bin/sh
# 10,000 jobs pushed with redis-cli, echo (async) and sleep (blocking)
# mixed, each run exactly once; then SIGTERM: exit status 0 and nothing
# left pending in the consumer group.
. "$(dirname "$0")/../lib.sh"

N=${N:-10000}

redis_start
config "$T/w.yaml" -e 's|level: info|level: debug|'
workqd_start "$T/w.yaml"
workqd_wait_ready

# Even jobs go to echo, odd ones sleep 0 to 2 ms on the executor.
i=0
while [ $i -lt "$N" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		echo "XADD workq:default * payload echo-$i"
	else
		echo "XADD workq:default * plugin sleep payload $((i % 3))"
	fi
	i=$((i + 1))
done > "$T/push.txt"
rcli < "$T/push.txt" > "$T/pushed.ids"
[ "$(wc -l < "$T/pushed.ids")" -eq "$N" ] || fail "pushed $(wc -l < "$T/pushed.ids") jobs, not $N"
say "pushed $N jobs"

done_count() {
	grep -c '> *job .* done in' "$T/workqd.log" || true
}
all_done() {
	[ "$(done_count)" -ge "$N" ] && [ "$(pending default)" = 0 ]
}
wait_until 120 all_done || fail "only $(done_count) of $N jobs done"

# Each pushed entry ran exactly once, and nothing else ran.
sed -n 's/^<7>job \([0-9-]*\) done in.*/\1/p' "$T/workqd.log" | sort > "$T/ran.ids"
sort "$T/pushed.ids" > "$T/pushed.sorted"
dups=$(uniq -d "$T/ran.ids" | wc -l)
[ "$dups" -eq 0 ] || fail "$dups jobs ran more than once"
cmp -s "$T/ran.ids" "$T/pushed.sorted" || fail "the jobs that ran are not the jobs pushed"
echoed=$(grep -c '^<6>echo: job [0-9-]*: echo-' "$T/workqd.log")
[ "$echoed" -eq $((N / 2)) ] || fail "echo logged $echoed jobs, not $((N / 2))"

kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"
[ "$(pending default)" = 0 ] || fail "$(pending default) entries still pending"
[ "$(xlen default)" = 0 ] || fail "$(xlen default) entries left in the stream"
say "ok: $N jobs, each ran once; clean stop"
