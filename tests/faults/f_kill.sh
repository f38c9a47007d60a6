#!/bin/sh
# workqd SIGKILLed five times while 100,000 jobs flow, restarted at once
# each time (as systemd's Restart= would): nothing lost, nothing
# unexpected; duplicates per kill at most workers + prefetch (the jobs it
# held); recovery = kill to the first job the new daemon starts.  The
# consumer name is the default <hostname>:0, so each new daemon resumes
# the entries its predecessor left pending.
. "$(dirname "$0")/common.sh"

KILLS=5
redis_start
fconfig "$T/w.yaml"
supervise wq "$T/w.yaml"
push_bg --count "$N" --rate 6000 --every 50:ms=1-40

k=1
while [ $k -le $KILLS ]; do
	wait_executed $((k * N / (KILLS + 2))) 60
	event fault "SIGKILL $k"
	kill -9 "$(wq_pid wq)"
	event heal "restart $k"
	k=$((k + 1))
done
push_wait
check --wait 120 --faults $KILLS --max-dups $((KILLS * (8 + 64))) ||
    fail "jobs lost or unexpected"
[ "$(exits wq)" -eq $KILLS ] || fail "workqd exited $(exits wq) times, not $KILLS"
