#!/bin/sh
# Graceful stop under load: 100,000 jobs, one in 2,000 of them 1 to 3 s long.
# SIGTERM mid-run twice: first with room to finish (shutdown_timeout 20s:
# every running job finishes, unstarted ones are handed back), then with
# shutdown_timeout 1s (jobs still running at the deadline are left pending
# and run again by the next start, so they never complete twice).  Each
# time: exit status 0 before the deadline, a restart, and in the end no
# job lost and no job completed twice (0 duplicates).
. "$(dirname "$0")/common.sh"

redis_start
fconfig "$T/w20.yaml"
SHUTDOWN=1s fconfig "$T/w1.yaml"
push_bg --count "$N" --rate 8000 --every 2000:ms=1000-3000

workqd_start "$T/w20.yaml" "$T/wq.log"
for step in 1 2; do
	wait_executed $((step * N / 3)) 60
	case $step in 1) limit=20 ;; 2) limit=1 ;; esac
	event fault "SIGTERM $step (shutdown_timeout ${limit}s)"
	t0=$(now_ms)
	kill -TERM "$WQ_PID"
	wait_exit "$WQ_PID"
	took=$(( $(now_ms) - t0 ))
	[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS after SIGTERM"
	[ "$took" -le $((limit * 1000 + 3000)) ] ||
	    fail "stop $step took $took ms (shutdown_timeout ${limit}s)"
	back=$(sed -n 's/.*handing back \([0-9]*\) unstarted.*/\1/p' "$T/wq.log" | tail -n 1)
	say "stop $step: exit 0 in $took ms; $back unstarted jobs handed back"
	left=$(sed -n 's/.*shutdown_timeout reached with \([0-9]*\) job.*/\1/p' "$T/wq.log" | tail -n 1)
	[ -n "$left" ] && say "stop $step: $left job(s) still running at the deadline left pending"
	event heal "restart $step"
	workqd_start "$T/w$([ $step = 1 ] && echo 1 || echo 20).yaml" "$T/wq.log"
done
push_wait
check --wait 120 --faults 2 --max-dups 0 || fail "graceful stop"
