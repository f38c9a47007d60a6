#!/bin/sh
# CLIENT KILL TYPE normal every 2 s while 100,000 jobs flow (the async
# arecord plugin, waiting 1 to 5 ms on loop timers for every tenth job):
# both of workqd's connections (and the producer's) are cut again and
# again.  Replies lost with them (a read's entries, an acknowledgement) are
# recovered: the entries are taken back by id, the scripts sent again.
# The script cache is flushed each time too (SCRIPT FLUSH): workqd always
# sends whole scripts (EVAL), so that changes nothing.  Nothing lost,
# nothing unexpected, the daemon never stalls.
. "$(dirname "$0")/common.sh"

redis_start
PLUGIN=arecord fconfig "$T/w.yaml"
workqd_start "$T/w.yaml" "$T/wq.log"
push_bg --count "$N" --rate 5000 --payload ms=0 --every 10:ms=1-5

kills=0
while kill -0 $PUSH 2>/dev/null; do
	sleep 2
	rcli SCRIPT FLUSH > /dev/null
	rcli CLIENT KILL TYPE normal > "$T/killed"
	event heal "CLIENT KILL: $(cat "$T/killed") connections"
	kills=$((kills + 1))
done
push_wait
kill -0 "$WQ_PID" || fail "workqd died"
check --wait 120 --faults $kills --max-dups $((kills * (8 + 64))) ||
    fail "CLIENT KILL"
