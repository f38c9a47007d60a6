#!/bin/sh
# Scheduled jobs: `delay` and `at` never start early and start at most
# 100 ms late, in due order; they live in Redis, so they survive a kill -9
# of the daemon; with two daemons each runs exactly once; an idle daemon
# sends Redis only a few commands a second.
. "$(dirname "$0")/../lib.sh"

REC=$T/runs
plugins lifecycle
yaml_config "$T/w.yaml" <<EOF
workers: 8
heartbeat: 1s
takeover: 3s
plugins:
  lifecycle: { file: $REC }
queues:
  - name: default
    plugin: lifecycle
EOF
sed 's|^plugin_dir:|consumer: second\nplugin_dir:|' "$T/w.yaml" > "$T/w2.yaml"
redis_start
workqd_start "$T/w.yaml"
workqd_wait_ready

# 30 jobs due 300 to 1200 ms after their push, pushed in an order unlike
# their due order; one more with `at` (fractional seconds).
i=0
while [ $i -lt 30 ]; do
	d=$(( (i * 7919) % 900 + 300 ))
	echo "XADD workq:default * id d$i payload ok delay $d"
	i=$((i + 1))
done > "$T/push"
rcli < "$T/push" > "$T/ids"
at=$(python3 -c 'import time; print("%.3f" % (time.time() + 1.5))')
rcli XADD workq:default '*' id at payload ok at "$at" >/dev/null
wait_until 10 sh -c "[ \$(wc -l < $REC) -ge 31 ]" || fail "only $(records "$REC") scheduled jobs ran"

# Lateness against the due time (entry ID ms + delay, or at).
paste -d' ' "$T/ids" "$T/push" | awk '{ split($1, a, "-"); printf "%s %.0f\n", $6, a[1] + $NF }' > "$T/due"
echo "at $(python3 -c "print(int($at * 1000))")" >> "$T/due"
awk 'NR == FNR { due[$1] = $2; next } { printf "%s %.0f\n", $1, $3 - due[$1] }' \
    "$T/due" "$REC" > "$T/late"
awk '$2 < 0 { print "early: " $0; bad = 1 } $2 > 100 { print "late: " $0; bad = 1 } END { exit bad }' \
    "$T/late" >&2 || fail "a scheduled job started early or more than 100 ms late"
say "lateness (ms): max $(sort -k2 -n "$T/late" | tail -1 | cut -d' ' -f2)"
# In due order: of two jobs due at least 20 ms apart, the earlier starts
# first (jobs due closer than that may be moved together and started by
# parallel workers in either order).
awk 'NR == FNR { due[$1] = $2; next } { print $3, due[$1] }' "$T/due" "$REC" |
    sort -n > "$T/order"
awk '{ s[NR] = $1; d[NR] = $2 } END {
	for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++)
		if (d[j] + 20 < d[i]) { print "out of order: due " d[i] " started before due " d[j]; exit 1 }
}' "$T/order" >&2 || fail "scheduled jobs did not start in due order"

# Idle: the scheduler polls Redis about twice a second, and everything
# together stays at a few commands a second (MONITOR lists the commands
# clients send; commands run inside scripts show as "lua" and are left out).
redis-cli -s "$SOCK" MONITOR > "$T/monitor" &
MON=$!
track "$MON"
t0=$(now_ms)
wait_until 5 sh -c "[ \$(( \$(date +%s%3N) - $t0 )) -ge 3000 ]"
kill "$MON"
wait "$MON" 2>/dev/null || true
secs=$(( ($(now_ms) - t0) / 1000 ))
calls=$(grep -c '\[0 unix' "$T/monitor" || true)
moves=$(grep '\[0 unix' "$T/monitor" | grep -c 'scheduled set, KEYS\[2\] stream' || true)
say "idle: $calls commands in ${secs}s, $moves of them scheduler polls"
[ "$moves" -le $((secs * 3)) ] || fail "the idle scheduler polled $moves times in ${secs}s"
[ "$calls" -le $((secs * 8)) ] || fail "an idle daemon sent $calls commands in ${secs}s"

# Survives a kill -9: deferred into Redis, moved back by the next start.
rcli XADD workq:default '*' id survivor payload ok delay 1500 >/dev/null
wait_until 5 sh -c "[ \$(redis-cli -s $SOCK ZCARD '{workq:default}:scheduled') -eq 1 ]" ||
    fail "the delayed job never reached the scheduled set"
kill -9 "$WQ_PID"
wait_exit "$WQ_PID"
workqd_start "$T/w.yaml" "$T/workqd2.log"
wait_until 10 grep -q '^survivor ' "$REC" || fail "a scheduled job did not survive a kill -9"

# Two daemons: 200 jobs due within a second, each runs exactly once.
workqd_start "$T/w2.yaml" "$T/second.log"
wait_until 10 grep -q 'consumer second' "$T/second.log" || fail "second daemon"
: > "$REC"
i=0
while [ $i -lt 200 ]; do
	echo "XADD workq:default * id m$i payload ok delay $(( (i * 37) % 700 + 300 ))"
	i=$((i + 1))
done | rcli > /dev/null
wait_until 15 sh -c "[ \$(wc -l < $REC) -ge 200 ]" || fail "only $(records "$REC") of 200 ran"
dups=$(cut -d' ' -f1 "$REC" | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups scheduled jobs ran twice with two daemons"
[ "$(cut -d' ' -f1 "$REC" | sort -u | wc -l)" -eq 200 ] || fail "jobs missing"
say "ok"
