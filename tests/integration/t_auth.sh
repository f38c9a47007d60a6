#!/bin/sh
# Authentication and the README's ACLs.  Redis has its default user off
# and three users: admin (this test), producer (XADD on the queue keys
# only) and wq (exactly the commands workqd sends, on workqd's keys only).
# workqd runs as wq with `redis.user` and a relative `password_file` found
# in $CREDENTIALS_DIRECTORY (systemd's LoadCredential=).  A wrong password
# is logged and retried, not a crash; the right one, written into the
# file, is picked up at the next attempt.  The producer pushes jobs that
# take every path workqd has (done, dead-lettered, delayed then moved
# back, handed back at stop); afterwards Redis's ACL LOG holds nothing
# from wq (the ACL is enough), and the producer cannot read the queue.
. "$(dirname "$0")/../lib.sh"

WQ_PASS=wq-secret-$$
PRODUCER_PASS=producer-secret-$$
ADMIN_PASS=admin-secret-$$

redis_start
acli() {
	redis-cli -s "$SOCK" --user admin --pass "$ADMIN_PASS" --no-auth-warning "$@"
}
pcli() {
	redis-cli -s "$SOCK" --user producer --pass "$PRODUCER_PASS" --no-auth-warning "$@"
}
rcli ACL SETUSER admin on ">$ADMIN_PASS" '~*' '&*' +@all > /dev/null
acli ACL SETUSER default off > /dev/null
# The README's ACLs, word for word (README: "Redis ACLs").
acli ACL SETUSER producer on ">$PRODUCER_PASS" resetkeys '%W~workq:*' \
    resetchannels -@all +xadd > /dev/null
acli ACL SETUSER wq on ">$WQ_PASS" resetkeys '~workq:*' '~{workq:*' \
    '~{workq}:*' resetchannels -@all +eval +xreadgroup +xgroup\|create \
    +xgroup\|delconsumer +xack +xclaim +xpending +xinfo\|groups \
    +xinfo\|consumers +xtrim +xdel +xadd +zadd +zrem +zscore +zrange \
    +zrangebyscore +zremrangebyscore +time +config\|get +client\|id \
    +client\|setname +client\|unblock +del +hset +hincrby +pexpire +pttl \
    > /dev/null
acli ACL LOG RESET > /dev/null
rcli PING 2>&1 | grep -q 'NOAUTH\|NOPERM\|WRONGPASS\|disabled' ||
    fail "the default user still works"

mkdir -m 700 "$T/creds"
printf 'not-the-password\n' > "$T/creds/redis-password"
chmod 600 "$T/creds/redis-password"
config "$T/w.yaml" -e 's|level: info|level: debug|' \
    -e 's|^  user: ""  |  user: wq  |' \
    -e 's|^  password_file: ""|  password_file: redis-password|'
grep -q '^  user: wq' "$T/w.yaml" || fail "config: user"
grep -q '^  password_file: redis-password' "$T/w.yaml" || fail "config: password_file"
CREDENTIALS_DIRECTORY=$T/creds
export CREDENTIALS_DIRECTORY
workqd_start "$T/w.yaml"

# A wrong password: logged, retried, the daemon lives on.
refused() { grep -q 'AUTH refused: WRONGPASS' "$T/workqd.log"; }
wait_until 10 refused || fail "a wrong password was not logged"
refused_again() { [ "$(grep -c 'AUTH refused' "$T/workqd.log")" -ge 2 ]; }
wait_until 10 refused_again || fail "workqd did not retry after a refused AUTH"
kill -0 "$WQ_PID" || fail "workqd died on a wrong password"
say "wrong password: logged and retried"
printf '%s\n' "$WQ_PASS" > "$T/creds/redis-password"
connected() { grep -q 'redis fetch: connected' "$T/workqd.log" &&
    grep -q 'redis cmd: connected' "$T/workqd.log"; }
wait_until 15 connected || fail "workqd did not connect with the right password"
say "right password picked up from \$CREDENTIALS_DIRECTORY"

# Every path: 200 done, 1 dead-lettered (no such plugin), 1 delayed.
i=0
while [ $i -lt 200 ]; do
	echo "XADD workq:default * payload job-$i"
	i=$((i + 1))
done > "$T/push.txt"
echo "XADD workq:default * plugin nosuch payload dead" >> "$T/push.txt"
echo "XADD workq:default * payload later delay 300" >> "$T/push.txt"
pcli < "$T/push.txt" > "$T/pushed"
! grep -q 'ERR\|NOPERM' "$T/pushed" || fail "the producer could not push: $(grep -m1 'ERR\|NOPERM' "$T/pushed")"
done_count() { grep -c '> *job .* done in' "$T/workqd.log" || true; }
all_done() {
	[ "$(done_count)" -ge 201 ] && [ "$(acli XLEN workq:default)" = 0 ] &&
	    [ "$(acli XLEN '{workq:default}:dead')" = 1 ] &&
	    [ "$(acli ZCARD '{workq:default}:scheduled')" = 0 ]
}
wait_until 30 all_done || fail "jobs: $(done_count) done, stream $(acli XLEN workq:default), dead $(acli XLEN '{workq:default}:dead')"
say "201 jobs done, 1 dead-lettered, the delayed one moved back and run"

# A hand-back at stop: one slow job runs, one waits behind it (workers 1).
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
config "$T/w1.yaml" -e 's|level: info|level: debug|' \
    -e 's|^  user: ""  |  user: wq  |' \
    -e 's|^  password_file: ""|  password_file: redis-password|' \
    -e 's|^workers: 8 |workers: 1 |'
workqd_start "$T/w1.yaml"
wait_until 10 connected || fail "workqd did not reconnect"
printf 'XADD workq:default * plugin sleep payload 1500\nXADD workq:default * payload after\n' | pcli > /dev/null
one_running() { [ "$(acli XPENDING workq:default workqd | head -n 1)" = 2 ]; }
wait_until 10 one_running || fail "the two jobs were not fetched"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
grep -q 'handing back 1 unstarted' "$T/workqd.log" || fail "nothing was handed back"

# Each ACL LOG entry as "reason username object"; the wrong passwords
# above are there as "auth" entries, and must be the only ones for wq.
acli --raw ACL LOG 128 | awk 'prev == "reason" { r = $0 }
    prev == "username" { u = $0 } prev == "object" { o = $0 }
    prev == "client-info" { print r, u, o } { prev = $0 }' > "$T/acl.log"
! grep -v '^auth ' "$T/acl.log" | grep -q ' wq ' ||
    fail "workqd used something its ACL does not allow: $(grep ' wq ' "$T/acl.log" | grep -v '^auth ')"
grep -q '^auth wq' "$T/acl.log" || fail "ACL LOG has not even the refused AUTH"
say "ACL LOG: nothing from workqd's user"

# The producer can push and nothing else: no reading jobs, no other keys.
for cmd in "XRANGE workq:default - +" "XREADGROUP GROUP workqd x STREAMS workq:default >" \
    "XLEN workq:default" "XADD other * payload x" "GET workq:default"; do
	pcli $cmd 2>&1 | grep -q NOPERM || fail "the producer may: $cmd"
done
say "the producer cannot read jobs or touch other keys"
# workqd's user cannot reach outside its keys either.
redis-cli -s "$SOCK" --user wq --pass "$WQ_PASS" --no-auth-warning GET other 2>&1 |
    grep -q NOPERM || fail "wq may read other keys"
redis-cli -s "$SOCK" --user wq --pass "$WQ_PASS" --no-auth-warning FLUSHALL 2>&1 |
    grep -q NOPERM || fail "wq may FLUSHALL"
say "ok"
