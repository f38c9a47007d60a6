#!/bin/sh
# Redis restarted twice under load (AOF, appendfsync always): SHUTDOWN,
# then the same server on the same socket and directory.  The producer
# keeps pushing through it (pushes whose reply was lost count as "maybe").
# workqd reconnects with backoff and resumes: nothing lost, nothing
# unexpected; recovery = Redis back to the first job started.
. "$(dirname "$0")/common.sh"

AOF="--appendonly yes --appendfsync always"
redis_start $AOF
fconfig "$T/w.yaml"
workqd_start "$T/w.yaml" "$T/wq.log"
push_bg --count "$N" --rate 5000 --payload ms=0 --every 10:ms=1-5

for k in 1 2; do
	wait_executed $((k * N / 3)) 60
	event fault "Redis SHUTDOWN $k"
	redis_down
	sleep 1
	redis_start $AOF
	event heal "Redis back $k"
done
push_wait
check --wait 120 --faults 2 --max-dups $((2 * (8 + 64))) || fail "Redis restart"
grep -c 'reconnecting' "$T/wq.log" | sed "s/^/$NAME: log lines about reconnecting: /"
