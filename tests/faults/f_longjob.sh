#!/bin/sh
# A live daemon's jobs are never taken from it, however long they run or
# wait: a (1 worker) runs a 12 s job while 10 more wait in its local queue,
# with takeover 5s and a live peer b looking for dead consumers every
# second.  Each job runs exactly once, all of them on a; b takes nothing.
. "$(dirname "$0")/common.sh"

redis_start
CONSUMER=a WORKERS=1 fconfig "$T/a.yaml"
CONSUMER=b fconfig "$T/b.yaml"
workqd_start "$T/a.yaml" "$T/a.log"
A=$WQ_PID
push --count 1 --payload ms=12000 > /dev/null
push --first 2 --count 10 --payload ms=0 > /dev/null
a_holds_all() { [ "$(consumer_pending a)" -eq 11 ]; }
wait_until 10 a_holds_all || fail "a holds $(consumer_pending a) entries, not 11"
t0=$(now_ms)
workqd_start "$T/b.yaml" "$T/b.log"
B=$WQ_PID

# While the long job runs, every entry stays a's.
while [ "$(executed)" -eq 0 ]; do
	held=$(consumer_pending a)
	[ "$held" -eq 11 ] || [ "$(executed)" -gt 0 ] ||
	    fail "a holds $held entries after $(( $(now_ms) - t0 )) ms"
	[ $(( $(now_ms) - t0 )) -lt 20000 ] || fail "the long job did not end"
	sleep 0.2
done
check --wait 20 --max-dups 0 || fail "a job ran twice or not at all"
# Past the point where a second run of the long job taken at 5 to 6 s
# would have ended.
sleep_until=$((t0 + 19000))
while [ "$(now_ms)" -lt $sleep_until ]; do sleep 0.2; done
check --max-dups 0 || fail "a job ran twice"
[ "$(awk -v p="$A" '$2 == p' "$REC" | wc -l)" -eq 11 ] || fail "b ran some of a's jobs"
! grep -q 'taking them over\|pending entries of' "$T/b.log" || fail "b took entries of a live daemon"
say "12 s job and 10 waiting jobs on a live daemon: each ran once, all on a"
