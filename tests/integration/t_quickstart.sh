#!/bin/sh
# The README's first command, daemon/run-demo.sh (here with the build
# already done, as under make): a private redis-server and workqd on the
# sample config and plugins; the push command it prints, run as printed,
# makes the echo plugin log the job; Ctrl-C (SIGINT to workqd) stops
# workqd cleanly, then the private Redis.
. "$(dirname "$0")/../lib.sh"

RUN=$T/run
# Its own process group (workqd included); Redis daemonizes out of it and
# is tracked by its pid file as soon as there is one.
MAKELEVEL=1 WQ_RUN_DIR=$RUN setsid sh "$TOP/daemon/run-demo.sh" \
    > "$T/demo.log" 2>&1 &
DEMO=$!
track $DEMO
track_group $DEMO
redis_pid() { test -s "$RUN/redis.pid"; }
wait_until 20 redis_pid || fail "the private redis-server did not start"
track "$(cat "$RUN/redis.pid")"
started() { grep -q 'consumer ' "$T/demo.log"; }
wait_until 20 started || fail "workqd did not start"
WQ=$(pgrep -f "daemon/workqd -c $RUN/workqd.yaml") || fail "no workqd running"
track "$WQ"

push=$(grep -m 1 "XADD workq:default '\*' payload hello" "$T/demo.log") ||
    fail "no push command printed"
(cd "$TOP" && eval "$push") > "$T/push.out" 2>&1 ||
    fail "the printed command failed: $(cat "$T/push.out")"
echoed() { grep -q "echo: job $(cat "$T/push.out"): hello" "$T/demo.log"; }
wait_until 10 echoed || fail "the echo plugin did not log job $(cat "$T/push.out")"

kill -INT "$WQ"
wait_exit $DEMO
[ "$STATUS" -eq 0 ] || fail "run-demo.sh exited $STATUS"
grep -q 'stopped cleanly' "$T/demo.log" || fail "workqd did not stop cleanly"
redis_gone() { ! redis-cli -s "$RUN/redis.sock" PING; }
wait_until 10 redis_gone || fail "the private redis-server still runs"
say "ok: started, pushed as printed, echoed, stopped, Redis stopped"
