#!/bin/sh
# Connecting to Redis.
#  - Redis down at start: workqd starts anyway, says so in the log, keeps
#    trying with capped backoff, connects when Redis appears and runs the
#    jobs that waited.
#  - TCP (HOST:PORT) as well as the unix socket.
#  - A Redis that would evict keys (maxmemory-policy allkeys-lru) is
#    refused: exit 78 with a message saying why, at start and when the
#    policy changes under a running daemon (checked at every connect).
. "$(dirname "$0")/../lib.sh"

# Redis down at start.
config "$T/w.yaml" -e 's|level: info|level: debug|'
workqd_start "$T/w.yaml"
down() { grep -q 'redis cmd: cannot connect' "$T/workqd.log"; }
wait_until 10 down || fail "workqd did not say that Redis is down"
sleep 2
kill -0 "$WQ_PID" || fail "workqd died while Redis was down"
tries=$(grep -c 'redis cmd: cannot connect' "$T/workqd.log")
[ "$tries" -ge 3 ] || fail "workqd tried $tries times in 2 s"
[ "$tries" -le 12 ] || fail "workqd tried $tries times in 2 s: no backoff"
say "Redis down: workqd runs, logged $tries attempts in 2 s"
redis_start
printf 'XADD workq:default * payload a\nXADD workq:default * payload b\n' | rcli > /dev/null
ran() { [ "$(grep -c '> *job .* done in' "$T/workqd.log")" -ge 2 ]; }
wait_until 15 ran || fail "the jobs did not run once Redis appeared"
cmd_up() { grep -q 'redis cmd: connected' "$T/workqd.log"; }
wait_until 15 cmd_up || fail "no 'redis cmd: connected' in the log"
acked() { [ "$(pending default)" = 0 ] && [ "$(xlen default)" = 0 ]; }
wait_until 15 acked || fail "the jobs were not acknowledged"
say "Redis appeared: connected and ran the jobs"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"

# The eviction policy, changed under a running daemon: the next connect
# finds it and the daemon stops with exit 78.
workqd_start "$T/w.yaml" "$T/policy-run.log"
# Running: its policy check passed and its read is blocked in Redis.
fetching() { rcli CLIENT LIST | grep 'name=workqd-fetch' | grep -q 'flags=b'; }
wait_until 10 fetching || fail "policy: workqd did not start fetching"
rcli CONFIG SET maxmemory-policy allkeys-lru > /dev/null
rcli CLIENT KILL TYPE normal > /dev/null
wait_exit "$WQ_PID"
[ "$STATUS" -eq 78 ] || fail "policy changed: workqd exited with $STATUS, not 78"
grep -q "maxmemory-policy is allkeys-lru: when full it would evict queued jobs; set it to noeviction" \
    "$T/policy-run.log" || fail "policy changed: no message saying why"
say "policy changed to allkeys-lru while running: exit 78, and why"

# At start.
workqd_start "$T/w.yaml" "$T/policy.log"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 78 ] || fail "allkeys-lru at start: exit $STATUS, not 78"
grep -q "^<3>broker: Redis's maxmemory-policy is allkeys-lru" "$T/policy.log" ||
    fail "allkeys-lru at start: $(cat "$T/policy.log")"
say "allkeys-lru at start: exit 78: $(grep -o "maxmemory-policy is.*" "$T/policy.log")"
rcli CONFIG SET maxmemory-policy noeviction > /dev/null
redis_stop

# TCP.
PORT=$(free_port)
redis_start --port "$PORT" --bind 127.0.0.1
config "$T/tcp.yaml" -e 's|level: info|level: debug|' \
    -e "s|address: unix:$SOCK|address: 127.0.0.1:$PORT|"
grep -q "address: 127.0.0.1:$PORT" "$T/tcp.yaml" || fail "config: address"
workqd_start "$T/tcp.yaml" "$T/tcp.log"
printf 'XADD workq:default * payload tcp\n' | redis-cli -h 127.0.0.1 -p "$PORT" > /dev/null
ran_tcp() { grep -q 'echo: job .*: tcp' "$T/tcp.log"; }
wait_until 10 ran_tcp || fail "no job ran over TCP"
redis-cli -h 127.0.0.1 -p "$PORT" CLIENT LIST | grep -q 'name=workqd-fetch.*laddr=127.0.0.1' ||
    grep -q "redis 127.0.0.1:$PORT" "$T/tcp.log" || fail "not connected over TCP"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd (TCP) exited with $STATUS"
say "TCP: ok"

# A password file that cannot be read: said, retried, no crash (the
# secret is read before connecting, never inside hiredis's callbacks).
config "$T/nopw.yaml" -e 's|password_file: ""|password_file: /nonexistent/redis-password|' \
    -e "s|address: unix:$SOCK|address: 127.0.0.1:$PORT|"
workqd_start "$T/nopw.yaml" "$T/nopw.log"
wait_until 10 grep -q 'password file /nonexistent/redis-password: No such file or directory; reconnecting' "$T/nopw.log" ||
    fail "an unreadable password file was not reported: $(cat "$T/nopw.log")"
wait_until 10 sh -c "[ \$(grep -c 'password file /nonexistent' $T/nopw.log) -ge 4 ]" ||
    fail "the connection was not retried"
kill -0 "$WQ_PID" || fail "workqd died on an unreadable password file"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd (no password file) exited with $STATUS"
say "unreadable password file: reported and retried"
