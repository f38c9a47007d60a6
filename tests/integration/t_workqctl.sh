#!/bin/sh
# workqctl against a real Redis: every command, as a table and as --json
# (parsed with python3's json module), on data seeded with redis-cli (no
# daemon needed), then with a running daemon (stats and daemons from its
# reports, a delayed job in the scheduled set).  Also the failures and
# their exit codes: 64 usage, 69 Redis unreachable, 78 configuration, 1
# for a refused push, a missing dead letter or an error reply.
. "$(dirname "$0")/../lib.sh"

PY=${PYTHON:-/usr/bin/python3}

# ctl ARGS...: workqctl on this test's config; output in $T/out, $T/err,
# exit status in RC.
ctl() {
	set +e
	"$WORKQCTL" -c "$T/w.yaml" "$@" > "$T/out" 2> "$T/err"
	RC=$?
	set -e
}
# expect CODE ARGS...: workqctl exits CODE.
expect() {
	code=$1
	shift
	ctl "$@"
	[ "$RC" -eq "$code" ] ||
	    fail "workqctl $*: exit $RC, not $code: $(cat "$T/out" "$T/err")"
}
# json EXPR: the Python expression EXPR about d (the JSON of $T/out) holds.
json() {
	"$PY" - "$1" "$T/out" <<'EOF' || fail "JSON check failed: $1: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[2]))
sys.exit(0 if eval("(" + sys.argv[1] + "\n)") else 1)
EOF
}
out_has() {
	grep -q -- "$1" "$T/out" || fail "output lacks /$1/: $(cat "$T/out")"
}
err_has() {
	grep -q -- "$1" "$T/err" || fail "stderr lacks /$1/: $(cat "$T/err")"
}

redis_ms() {
	rcli TIME | { read -r s; read -r us; echo $((s * 1000 + us / 1000)); }
}

redis_start
config "$T/w.yaml" -e 's|^heartbeat: 2s|heartbeat: 250ms|' \
    -e 's|^consumer: ""|consumer: c1|'
printf '  - name: mail\n    plugin: echo\n' >> "$T/w.yaml"

# --- usage, configuration and connection errors
expect 64
err_has 'no command given'
expect 64 frobnicate
err_has "unknown command 'frobnicate'"
expect 64 stats --bogus
err_has "unknown option '--bogus'"
expect 64 stats --all
err_has 'stats does not take --all'
expect 64 dead list --all
expect 64 dead
expect 64 scheduled
expect 64 dead list --older-than soon
err_has "expected a duration"
expect 64 stats 'bad queue'
expect 64 push default
expect 64 push default p plugin
expect 0 -h
out_has '^usage: workqctl'
expect 0 -V
out_has '^workqctl [0-9]'
set +e
"$WORKQCTL" -c "$T/none.yaml" stats > "$T/out" 2> "$T/err"
RC=$?
set -e
[ "$RC" -eq 78 ] || fail "missing config: exit $RC"
err_has "$T/none.yaml: No such file or directory"
printf 'workers: [1\n' > "$T/bad.yaml"
set +e
"$WORKQCTL" -c "$T/bad.yaml" stats 2> "$T/err"
RC=$?
set -e
[ "$RC" -eq 78 ] || fail "bad config: exit $RC"
expect 69 -s "unix:$T/nowhere.sock" stats
err_has "redis unix:$T/nowhere.sock: "
expect 69 -s 127.0.0.1:1 stats
expect 64 -s nonsense stats
# Without -c and with no file at the default path, workqd's defaults
# (prefix workq, queue default) are used: -s points at our Redis.
if [ ! -e /usr/local/etc/workqd/workqd.yaml ] && [ ! -e /etc/workqd/workqd.yaml ]; then
	"$WORKQCTL" -s "unix:$SOCK" --json stats > "$T/out" ||
	    fail "defaults: exit $?"
	json 'd["queues"][0]["queue"] == "default"'
fi

# --- push: checked like workqd checks it, then XADDed
expect 0 push default hello
grep -Eq '^[0-9]+-[0-9]+$' "$T/out" || fail "push printed $(cat "$T/out")"
ID=$(cat "$T/out")
[ "$(rcli XRANGE workq:default "$ID" "$ID" | tr '\n' ' ')" = "$ID payload hello " ] ||
    fail "pushed entry: $(rcli XRANGE workq:default "$ID" "$ID")"
expect 0 --json push default 'two words' plugin sleep timeout 5s id job-7
json 'd["queue"] == "default" and "-" in d["id"]'
ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/out")
[ "$(rcli XRANGE workq:default "$ID" "$ID" | tr '\n' '|')" = "$ID|payload|two words|plugin|sleep|timeout|5s|id|job-7|" ] ||
    fail "pushed fields: $(rcli XRANGE workq:default "$ID" "$ID")"
LEN=$(rcli XLEN workq:default)
expect 1 push default x timeout soon
err_has "push: field 'timeout': expected milliseconds or a duration"
expect 1 push default x retries 1001
err_has "field 'retries'"
expect 1 push default x plugin 'Bad!'
err_has "field 'plugin'"
expect 1 push default x plugin nosuch
err_has "no plugin 'nosuch'"
expect 1 push nosuch x
err_has "queue 'nosuch' is not in"
[ "$(rcli XLEN workq:default)" = "$LEN" ] || fail "a refused push was pushed"
[ "$(rcli EXISTS workq:nosuch)" = 0 ] || fail "a refused push created a stream"
expect 0 push --force nosuch x
expect 0 push mail -starts-with-dash
expect 1 push default x retries -1
err_has "field .retries.: "
expect 64 push default x --force y
[ "$(rcli XLEN workq:mail)" = 1 ] || fail "push to mail"

# --- stats: Redis's figures, the counters, the daemons' rates
NOW=$(redis_ms)
rcli HSET '{workq:default}:stats' done 7 failed 2 retried 1 dead 3 expired 1 timed_out 1 > /dev/null
rcli XADD '{workq:default}:dead' '*' payload d > /dev/null
rcli ZADD '{workq:default}:scheduled' "$NOW" x > /dev/null
rcli ZADD '{workq}:daemons' $((NOW + 60000)) d1 $((NOW + 60000)) d2 $((NOW - 1000)) gone > /dev/null
rcli HSET '{workq}:daemon:d1' consumer d1 host h1 pid 11 version 9.9 heartbeat $((NOW - 1500)) \
    busy 3 capacity 8 started $((NOW - 3600000)) queues default,mail rate:default 2.5 rate 2.5 > /dev/null
rcli HSET '{workq}:daemon:d2' consumer d2 host h2 pid 22 version 9.9 heartbeat "$NOW" \
    busy 0 capacity 4 started "$NOW" queues default rate:default 1.5 rate:mail 1 > /dev/null
rcli HSET '{workq}:daemon:gone' consumer gone rate:default 100 > /dev/null
expect 0 stats
head -n 1 "$T/out" | grep -q '^QUEUE  *LENGTH  *PENDING  *SCHEDULED  *DEAD  *DONE  *FAILED  *JOBS/S$' ||
    fail "stats header: $(cat "$T/out")"
grep -Eq "^default +$LEN +0 +1 +1 +7 +2 +4\.0$" "$T/out" || fail "stats row: $(cat "$T/out")"
expect 0 stats --json
json 'len(d["queues"]) == 2 and d["queues"][0] == {"queue": "default",
    "length": '"$LEN"', "pending": 0, "scheduled": 1, "dead": 1,
    "counters": {"done": 7, "failed": 2, "retried": 1, "dead": 3,
    "expired": 1, "timed_out": 1}, "jobs_per_second": 4.0}'
json 'd["queues"][1]["queue"] == "mail" and d["queues"][1]["length"] == 1 and
    d["queues"][1]["jobs_per_second"] == 1'
expect 0 stats mail --json
json '[q["queue"] for q in d["queues"]] == ["mail"]'
expect 0 stats -q other --json
json 'd["queues"][0]["length"] == 0 and d["queues"][0]["jobs_per_second"] == 0'

# --- daemons: the live ones, not the expired one
expect 0 daemons
out_has '^CONSUMER  *HOST  *PID  *VERSION  *HEARTBEAT  *BUSY  *JOBS/S  *UP  *QUEUES$'
grep -Eq '^d1 +h1 +11 +9\.9 +[0-9.]+s ago +3/8 +2\.5 +1h00m +default,mail$' "$T/out" ||
    fail "daemons row: $(cat "$T/out")"
grep -q '^gone' "$T/out" && fail "an expired daemon is listed"
expect 0 daemons --json
json '[x["consumer"] for x in d["daemons"]] == ["d1", "d2"]'
json 'd["daemons"][0]["busy"] == 3 and d["daemons"][0]["capacity"] == 8 and
    d["daemons"][0]["version"] == "9.9" and d["daemons"][0]["pid"] == 11 and
    1400 <= d["daemons"][0]["heartbeat_age_ms"] < 60000 and
    d["daemons"][0]["queues"] == ["default", "mail"] and
    d["daemons"][1]["jobs_per_second"] == 0'
expect 64 daemons extra
rcli DEL '{workq}:daemons' '{workq}:daemon:d1' '{workq}:daemon:d2' '{workq}:daemon:gone' > /dev/null

# --- dead letters: list, show, retry, purge
NOW=$(redis_ms)
rcli DEL '{workq:default}:dead' > /dev/null
OLD=$(rcli XADD '{workq:default}:dead' $((NOW - 7200000))-0 payload old plugin sleep attempt 4 \
    dead.reason exhausted dead.error 'boom' dead.attempts 4 dead.deliveries 4 \
    dead.queue default dead.entry 1-1 dead.failed_at $((NOW - 7200000)))
NEW=$(rcli XADD '{workq:default}:dead' '*' payload "$(printf 'new\001')" id job-9 attempt 2 \
    dead.reason rejected dead.error "$(printf 'bad\nthing')" dead.attempts 2 dead.deliveries 2 \
    dead.queue default dead.entry 2-2 dead.failed_at "$NOW")
MAILD=$(rcli XADD '{workq:mail}:dead' '*' payload m dead.reason invalid dead.error 'no payload')
expect 0 dead list
out_has '^QUEUE  *ID  *AGE  *REASON  *ATTEMPTS  *PLUGIN  *ERROR$'
grep -Eq "^default +$OLD +2h00m +exhausted +4 +sleep +boom$" "$T/out" || fail "dead list: $(cat "$T/out")"
grep -Eq "^default +$NEW .* rejected +2 +bad\?thing$" "$T/out" || fail "dead list: $(cat "$T/out")"
grep -Eq "^mail +$MAILD .* invalid " "$T/out" || fail "dead list: $(cat "$T/out")"
expect 0 dead list --json
json '[q["total"] for q in d["queues"]] == [2, 1]'
json 'd["queues"][0]["entries"][1]["fields"] == {"payload": "new\u0001", "id": "job-9",
    "attempt": "2", "dead.reason": "rejected", "dead.error": "bad\nthing",
    "dead.attempts": "2", "dead.deliveries": "2", "dead.queue": "default",
    "dead.entry": "2-2", "dead.failed_at": "'"$NOW"'"}'
json 'd["queues"][0]["entries"][0]["reason"] == "exhausted" and
    d["queues"][0]["entries"][0]["attempts"] == 4 and
    d["queues"][0]["entries"][0]["age_ms"] >= 7200000'
expect 0 dead list --older-than 1h --json
json '[e["id"] for q in d["queues"] for e in q["entries"]] == ["'"$OLD"'"]'
expect 0 dead list --limit 1 -q default
[ "$(wc -l < "$T/out")" -eq 2 ] || fail "--limit 1: $(cat "$T/out")"
err_has 'default: 1 of 2 dead letters shown'
expect 0 dead show "$NEW"
out_has "^default $NEW$"
out_has '^  payload: new\\x01$'
out_has '^  dead.error: bad\\nthing$'
expect 0 dead show "$OLD" "$MAILD" --json
json '[(e["queue"], e["id"]) for e in d["entries"]] == [("default", "'"$OLD"'"), ("mail", "'"$MAILD"'")] and d["not_found"] == []'
expect 1 dead show 5-5 --json
err_has 'no dead letter 5-5'
json 'd["entries"] == [] and d["not_found"] == ["5-5"]'
expect 64 dead show not-an-id
expect 64 dead show
expect 64 dead retry
expect 64 dead retry "$OLD" --all
expect 64 dead purge --all --older-than 1h

# retry by ID: the original fields, without dead.* and attempt, back in
# the queue; the dead letter gone.  An ID found nowhere: exit 1.
LEN=$(rcli XLEN workq:default)
expect 1 --json dead retry "$NEW" 9-9
err_has 'no dead letter 9-9'
json 'len(d["retried"]) == 1 and d["retried"][0]["id"] == "'"$NEW"'" and
    d["retried"][0]["queue"] == "default" and d["not_found"] == ["9-9"]'
BACK=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["retried"][0]["new_id"])' "$T/out")
[ "$(rcli XLEN workq:default)" = $((LEN + 1)) ] || fail "retry did not push one entry"
[ "$(rcli XRANGE workq:default "$BACK" "$BACK" | tr '\n' '|')" = "$(printf '%s|payload|new\001|id|job-9|' "$BACK")" ] ||
    fail "retried fields: $(rcli XRANGE workq:default "$BACK" "$BACK")"
[ "$(rcli XRANGE '{workq:default}:dead' "$NEW" "$NEW")" = "" ] || fail "the dead letter stayed"
expect 0 dead retry --older-than 1h
out_has "^default $OLD -> [0-9]*-[0-9]*$"
out_has '^pushed back 1 dead letter(s)$'
[ "$(rcli XLEN '{workq:default}:dead')" = 0 ] || fail "dead letters left after retries"

# purge: by age, by ID, all.
rcli DEL '{workq:mail}:dead' > /dev/null
rcli XADD '{workq:mail}:dead' $((NOW - 7200000))-0 payload old2 > /dev/null
MAILD=$(rcli XADD '{workq:mail}:dead' '*' payload m2)
expect 0 dead purge -q mail --older-than 1h --json
json 'd["purged"] == [{"queue": "mail", "count": 1}] and d["not_found"] == []'
[ "$(rcli XLEN '{workq:mail}:dead')" = 1 ] || fail "purge --older-than took too much"
expect 0 dead purge "$MAILD"
out_has '^purged 1 dead letter(s)$'
expect 1 dead purge "$MAILD"
err_has "no dead letter $MAILD"
for i in 1 2 3 4 5; do
	rcli XADD '{workq:default}:dead' '*' payload "p$i" > /dev/null
done
expect 0 dead purge --all --json
json 'sum(p["count"] for p in d["purged"]) == 5'
[ "$(rcli EXISTS '{workq:default}:dead')" = 0 ] || fail "purge --all left entries"

# Retries that race push each dead letter once (the script is atomic).
i=0
while [ $i -lt 300 ]; do
	echo "XADD {workq:default}:dead * payload r$i dead.reason exhausted"
	i=$((i + 1))
done | rcli > /dev/null
LEN=$(rcli XLEN workq:default)
PIDS_R=""
for i in 1 2 3 4; do
	"$WORKQCTL" -c "$T/w.yaml" -q default dead retry --all > "$T/r$i.out" 2>&1 &
	PIDS_R="$PIDS_R $!"
	track $!
done
for p in $PIDS_R; do
	wait_exit "$p"
	[ "$STATUS" -eq 0 ] || fail "a concurrent retry failed"
done
[ "$(rcli XLEN '{workq:default}:dead')" = 0 ] || fail "racing retries left dead letters"
[ "$(rcli XLEN workq:default)" = $((LEN + 300)) ] ||
    fail "racing retries pushed $(( $(rcli XLEN workq:default) - LEN )) entries, not 300"
total=$(cat "$T"/r?.out | sed -n 's/^pushed back \([0-9]*\) dead letter(s)$/\1/p' | paste -sd+ | bc)
[ "$total" = 300 ] || fail "the racing retries say they pushed back $total"

# An error reply (a key of the wrong type) is a failure, with Redis's words.
rcli SET '{workq:mail}:dead' x > /dev/null
expect 1 dead list -q mail
err_has 'WRONGTYPE'
rcli DEL '{workq:mail}:dead' > /dev/null

# --- scheduled list: members unpacked in Redis, soonest first
rcli DEL '{workq:default}:scheduled' > /dev/null
NOW=$(redis_ms)
rcli EVAL "redis.call('ZADD', KEYS[1], ARGV[1], cmsgpack.pack({'5-5', 'payload', 'later', 'plugin', 'sleep', 'attempt', '3', 'id', 'job-5'})) redis.call('ZADD', KEYS[1], ARGV[2], cmsgpack.pack({'6-6', 'payload', 'sooner'})) return 1" \
    1 '{workq:default}:scheduled' $((NOW + 300000)) $((NOW + 60000)) > /dev/null
expect 0 scheduled list
out_has '^QUEUE  *DUE  *ATTEMPT  *PLUGIN  *JOB  *PAYLOAD$'
sed -n 2p "$T/out" | grep -Eq '^default +in [0-9.m]+s +1 +- +6-6 +sooner$' ||
    fail "scheduled list: $(cat "$T/out")"
sed -n 3p "$T/out" | grep -Eq '^default +in 4m[0-9]{2}s +3 +sleep +job-5 +later$' ||
    fail "scheduled list: $(cat "$T/out")"
expect 0 scheduled list --json --limit 1
json 'len(d["scheduled"]) == 1 and d["scheduled"][0]["entry"] == "6-6" and
    d["scheduled"][0]["fields"] == {"payload": "sooner"} and
    d["scheduled"][0]["due"] == '$((NOW + 60000))' and
    0 < d["scheduled"][0]["due_in_ms"] <= 60000'
expect 64 scheduled list extra
expect 64 scheduled list --all

# --- credentials from the config's password file
rcli CONFIG SET requirepass s3cret > /dev/null
rclia() {
	redis-cli -s "$SOCK" --no-auth-warning -a s3cret "$@"
}
printf 's3cret\n' > "$T/pass"
sed -e "s|  password_file: \"\"|  password_file: $T/pass|" "$T/w.yaml" > "$T/auth.yaml"
"$WORKQCTL" -c "$T/auth.yaml" --json stats > "$T/out" || fail "with a password: exit $?"
json 'd["queues"][0]["queue"] == "default"'
expect 78 stats
err_has 'NOAUTH'
printf 'wrong\n' > "$T/pass"
set +e
"$WORKQCTL" -c "$T/auth.yaml" stats 2> "$T/err"
RC=$?
set -e
[ "$RC" -eq 78 ] || fail "a wrong password: exit $RC"
err_has 'AUTH: WRONGPASS'
rm "$T/pass"
set +e
"$WORKQCTL" -c "$T/auth.yaml" stats 2> "$T/err"
RC=$?
set -e
[ "$RC" -eq 78 ] || fail "no password file: exit $RC"
err_has "password file $T/pass: No such file"
rclia CONFIG SET requirepass '' > /dev/null

# --- with a daemon: its reports feed stats and daemons
rcli FLUSHALL > /dev/null
workqd_start "$T/w.yaml"
workqd_wait_ready
i=0
while [ $i -lt 20 ]; do
	ctl push default "job-$i"
	[ "$RC" -eq 0 ] || fail "push $i: $(cat "$T/err")"
	i=$((i + 1))
done
ctl push default later delay 1h
done_is_20() {
	"$WORKQCTL" -c "$T/w.yaml" --json stats default > "$T/s.json" &&
	    "$PY" -c 'import json,sys; q = json.load(open(sys.argv[1]))["queues"][0]; sys.exit(0 if q["counters"]["done"] == 20 and q["scheduled"] == 1 else 1)' "$T/s.json"
}
wait_until 20 done_is_20 || fail "stats never showed 20 done: $(cat "$T/s.json")"
expect 0 daemons --json
json 'len(d["daemons"]) == 1 and d["daemons"][0]["consumer"] == "c1" and
    d["daemons"][0]["capacity"] == 8 and d["daemons"][0]["version"] == "0.1.0" and
    0 <= d["daemons"][0]["heartbeat_age_ms"] < 5000 and
    d["daemons"][0]["queues"] == ["default", "mail"]'
expect 0 scheduled list --json
json 'len(d["scheduled"]) == 1 and d["scheduled"][0]["fields"]["payload"] == "later" and
    3590000 < d["scheduled"][0]["due_in_ms"] <= 3600000'
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
expect 0 daemons --json
json 'd["daemons"] == []'
say "ok: every command, tables and JSON, errors and exit codes"
