#!/bin/sh
# The exec plugin: a command per job, without a shell.
#   - exit 0 is done; the payload arrives on stdin and the fields in an
#     environment holding nothing else (PATH, WORKQ_*, env:), with no
#     signal blocked or ignored;
#   - exit 75 is retried; another exit status is dead-lettered (retries 0)
#     with "exit status N: <last line of stderr>";
#   - stdout and stderr are logged with the job id, capped at output_max;
#   - a command that ignores its stdin does not hurt workqd (SIGPIPE);
#   - on timeout the whole process group goes: SIGTERM, then SIGKILL after
#     grace, also a grandchild that ignores SIGTERM; no zombie of workqd's;
#   - a workqd that exits with a command still running (shutdown_timeout
#     ran out, a long grace) kills the command's group as it exits;
#   - a command gone missing fails its jobs with the reason; workqd -t
#     refuses a command that is missing, not executable or relative, with
#     file:line:column.
. "$(dirname "$0")/../lib.sh"

# bash, not dash: dash clears its signal mask when it starts, which would
# hide a mask inherited from workqd's executor threads (they block all).
cat > "$T/job.sh" <<EOF
#!/bin/bash
# The command the exec plugin runs; what it does depends on field "mode".
case "\$WORKQ_FIELD_MODE" in
env)
	tr '\0' '\n' < /proc/\$\$/environ > "$T/env.\$WORKQ_JOB_ID"
	grep -E '^Sig(Blk|Ign):' /proc/self/status > "$T/sig.\$WORKQ_JOB_ID"
	cat > "$T/stdin.\$WORKQ_JOB_ID"
	echo "said hello"
	echo "a warning" >&2
	;;
tempfail)
	echo "try later" >&2
	exit 75 ;;
fail)
	echo "first line" >&2
	echo "disk on fire" >&2
	exit 3 ;;
chatty)
	i=0
	while [ \$i -lt 100 ]; do echo "chatty line \$i"; i=\$((i + 1)); done ;;
nostdin)
	exit 0 ;;
hang)
	trap 'echo TERM > "$T/\$WORKQ_JOB_ID.term"; exit 1' TERM
	echo \$\$ > "$T/\$WORKQ_JOB_ID.pgid"
	sh -c "trap '' TERM; echo \\\$\\\$ > $T/\$WORKQ_JOB_ID.gc; exec sleep 1000" &
	while :; do sleep 1; done ;;
stubborn)
	trap '' TERM
	echo \$\$ > "$T/\$WORKQ_JOB_ID.pgid"
	sh -c "trap '' TERM; echo \\\$\\\$ > $T/\$WORKQ_JOB_ID.gc; exec sleep 1000" &
	while :; do sleep 1; done ;;
esac
exit 0
EOF
chmod 755 "$T/job.sh"

redis_start
config "$T/w.yaml" -e 's|level: info|level: debug|' \
    -e "s|^  sleep: {}|  sleep: {}\n  exec: {command: [$T/job.sh], grace: 500ms, output_max: 200, env: {GREETING: hi there}}|"
"$WORKQD" -t -c "$T/w.yaml" > "$T/check.out" 2>&1 ||
    fail "workqd -t refused the exec config: $(cat "$T/check.out")"

# workqd -t: a missing command, then one that is not executable.
expect_refusal() {
	set +e
	"$WORKQD" -t -c "$1" > "$T/out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 78 ] || fail "-t on $1: exit $rc, not 78: $(cat "$T/out")"
	grep -q -- "$2" "$T/out" || fail "-t on $1 said: $(cat "$T/out"), expected /$2/"
}
config "$T/missing.yaml" \
    -e "s|^  sleep: {}|  sleep: {}\n  exec: {command: [$T/nosuch, x]}|"
expect_refusal "$T/missing.yaml" \
    "^$T/missing.yaml:[0-9]*:[0-9]*: command: $T/nosuch: No such file or directory$"
printf '#!/bin/sh\n' > "$T/noexec.sh"
chmod 644 "$T/noexec.sh"
config "$T/noexec.yaml" \
    -e "s|^  sleep: {}|  sleep: {}\n  exec: {command: [$T/noexec.sh]}|"
# (Also for root: access(X_OK) wants an execute bit.)
expect_refusal "$T/noexec.yaml" \
    "^$T/noexec.yaml:[0-9]*:[0-9]*: command: $T/noexec.sh: Permission denied$"
config "$T/relative.yaml" \
    -e "s|^  sleep: {}|  sleep: {}\n  exec: {command: [job.sh]}|"
expect_refusal "$T/relative.yaml" "command: job.sh: must be an absolute path"

workqd_start "$T/w.yaml"
workqd_wait_ready

push() {
	rcli XADD workq:default '*' plugin exec "$@" >/dev/null
}

# Done, with the environment and stdin the command saw.
# (redis-cli reads escapes like \x00 only in commands given on stdin.)
printf '%s\n' 'XADD workq:default * plugin exec id envjob mode env x-y.z "a b" bin "a\x00b" payload "hello\nworld"' |
    rcli >/dev/null
wait_until 10 grep -q 'job envjob done in' "$T/workqd.log" ||
    fail "the env job did not finish"
printf 'hello\nworld' | cmp -s - "$T/stdin.envjob" ||
    fail "stdin: got '$(cat "$T/stdin.envjob")'"
sort "$T/env.envjob" | sed 's/^WORKQ_DEADLINE=[0-9]\{13\}$/WORKQ_DEADLINE=ms/' \
    > "$T/env.got"
cat > "$T/env.want" <<EOF
GREETING=hi there
PATH=/usr/bin:/bin
WORKQ_ATTEMPT=1
WORKQ_DEADLINE=ms
WORKQ_FIELD_ID=envjob
WORKQ_FIELD_MODE=env
WORKQ_FIELD_PLUGIN=exec
WORKQ_FIELD_X_Y_Z=a b
WORKQ_JOB_ID=envjob
WORKQ_QUEUE=default
EOF
cmp -s "$T/env.want" "$T/env.got" ||
    fail "environment: $(diff "$T/env.want" "$T/env.got")"
# No signal blocked, none ignored; glibc's posix_spawn leaves its two
# internal signals (32 and 33, below SIGRTMIN) ignored in every child.
grep -qx 'SigBlk:.0000000000000000' "$T/sig.envjob" &&
    grep -qxE 'SigIgn:.(0000000000000000|0000000180000000)' "$T/sig.envjob" ||
    fail "signals blocked or ignored in the command: $(cat "$T/sig.envjob")"
grep -q '^<6>exec: job envjob: stdout: said hello$' "$T/workqd.log" ||
    fail "stdout was not logged"
grep -q '^<4>exec: job envjob: stderr: a warning$' "$T/workqd.log" ||
    fail "stderr was not logged"
say "done: stdin, environment, signal state and output as specified"

# Exit 75: a retry (whatever the backoff, attempt 1 is logged as such).
push id tf mode tempfail payload x
wait_until 10 grep -q 'job tf (attempt 1) failed: exit status 75: try later; retry in' \
    "$T/workqd.log" || fail "exit 75 was not retried"
[ "$(rcli XLEN '{workq:default}:dead')" = 0 ] || fail "exit 75 dead-lettered"

# Another exit status, no retries left: dead, with the last stderr line.
push id f3 mode fail retries 0 payload x
wait_until 10 sh -c "[ \"\$(redis-cli -s $SOCK XLEN '{workq:default}:dead')\" = 1 ]" ||
    fail "the failing job was not dead-lettered"
rcli XRANGE '{workq:default}:dead' - + > "$T/dead.txt"
grep -A1 -x 'dead.error' "$T/dead.txt" | grep -qx 'exit status 3: disk on fire' ||
    fail "dead.error: $(cat "$T/dead.txt")"
grep -A1 -x 'dead.reason' "$T/dead.txt" | grep -qx 'exhausted' ||
    fail "dead.reason: $(cat "$T/dead.txt")"
say "exit 75 retried; exit 3 dead-lettered with its stderr"

# Output capping: 100 lines of 13 or 14 bytes (newline not counted); 200
# bytes logged are lines 0 to 9 (130 bytes) and 10 to 14 (70 bytes).
push id chatty mode chatty payload x
wait_until 10 grep -q 'job chatty done in' "$T/workqd.log" ||
    fail "the chatty job did not finish"
lines=$(grep -c '^<6>exec: job chatty: stdout: chatty line' "$T/workqd.log")
[ "$lines" -eq 15 ] || fail "$lines lines of output logged, not 15 (200 bytes)"
grep -q '^<6>exec: job chatty: stdout: chatty line 14$' "$T/workqd.log" ||
    fail "the last line that fits was not logged"
grep -q '^<4>exec: job chatty: output over 200 bytes; the rest is not logged' \
    "$T/workqd.log" || fail "no word about the capped output"
say "output capped at 200 bytes"

# A command that never reads its stdin: EPIPE, not a dead workqd.
head -c 300000 /dev/zero | tr '\0' a |
    rcli -x XADD workq:default '*' plugin exec id big mode nostdin payload >/dev/null
wait_until 10 grep -q 'job big done in' "$T/workqd.log" ||
    fail "the job that ignored its stdin did not finish"
kill -0 "$WQ_PID" || fail "workqd died"

# live_in_group PGID: pids of the group that are not zombies.
live_in_group() {
	for p in $(pgrep -g "$1" || true); do
		s=$(ps -o stat= -p "$p" 2>/dev/null || true)
		case "$s" in Z*|"") ;; *) echo "$p" ;; esac
	done
}
group_gone() {
	[ -z "$(live_in_group "$1")" ]
}
# Zombies whose parent is workqd (children it did not reap).
our_zombies() {
	ps -o pid=,stat= --ppid "$WQ_PID" | awk '$2 ~ /^Z/ { print $1 }'
}
no_zombies() {
	[ -z "$(our_zombies)" ]
}

# Timeouts: a command that dies on SIGTERM but leaves a grandchild that
# ignores it; then one that ignores SIGTERM itself (SIGKILL after grace).
for mode in hang stubborn; do
	push id "$mode" mode "$mode" timeout 1000 retries 0 payload x
	wait_until 10 test -s "$T/$mode.gc" || fail "$mode: the grandchild did not start"
	pgid=$(cat "$T/$mode.pgid")
	track_group "$pgid"	# if the test fails before workqd kills it
	gc=$(cat "$T/$mode.gc")
	[ "$(ps -o pgid= -p "$gc" | tr -d ' ')" = "$pgid" ] ||
	    fail "$mode: the grandchild is not in the command's process group"
	[ "$pgid" != "$(ps -o pgid= -p "$WQ_PID" | tr -d ' ')" ] ||
	    fail "$mode: the command runs in workqd's process group"
	wait_until 10 grep -q "job $mode dead-lettered (exhausted): timed out after 1000 ms" \
	    "$T/workqd.log" || fail "$mode: the job did not time out"
	[ "$mode" = stubborn ] || wait_until 5 test -s "$T/$mode.term" ||
	    fail "$mode: the command did not get SIGTERM"
	wait_until 10 group_gone "$pgid" ||
	    fail "$mode: processes of group $pgid survived: $(live_in_group "$pgid")"
	wait_until 5 no_zombies ||
	    fail "$mode: zombies left under workqd: $(our_zombies)"
done
say "timeouts: process groups gone, grandchildren too, no zombie"

# The command gone after start-up: the job fails with the reason.
mv "$T/job.sh" "$T/job.sh.away"
push id gone mode env retries 0 payload x
wait_until 10 grep -q "job gone dead-lettered (exhausted): cannot run $T/job.sh: No such file or directory" \
    "$T/workqd.log" || fail "a missing command did not fail the job with the reason"
mv "$T/job.sh.away" "$T/job.sh"
say "a command gone missing fails its jobs with the reason"

kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"

# A stop whose shutdown_timeout (1 s here) runs out while a command that
# ignores SIGTERM runs, with a grace of 30 s: workqd exits without
# waiting for it, and the command's group is killed as workqd exits, not
# left behind.  The job is not lost: it stays pending in Redis (or is
# scheduled for a retry, had its outcome been recorded first).
config "$T/long.yaml" -e 's|^shutdown_timeout: 20s|shutdown_timeout: 1s|' \
    -e "s|^  sleep: {}|  sleep: {}\n  exec: {command: [$T/job.sh], grace: 30s}|"
# (It exits with a handler still running, so it skips its teardown by
# design: LeakSanitizer, in an instrumented build, is not told.)
saved_asan=${ASAN_OPTIONS-}
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
workqd_start "$T/long.yaml" "$T/long.log"
ASAN_OPTIONS=$saved_asan
[ -n "$ASAN_OPTIONS" ] || unset ASAN_OPTIONS
workqd_wait_ready "$T/long.log"
push id stopping mode stubborn timeout 60000 payload x
wait_until 10 test -s "$T/stopping.gc" || fail "stop: the grandchild did not start"
pgid=$(cat "$T/stopping.pgid")
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
wait_until 10 group_gone "$pgid" ||
    fail "stop: processes of group $pgid outlived workqd: $(live_in_group "$pgid")"
rcli XRANGE workq:default - + > "$T/stream.txt"
rcli ZSCAN '{workq:default}:scheduled' 0 MATCH '*stopping*' COUNT 1000 \
    >> "$T/stream.txt"
grep -q stopping "$T/stream.txt" ||
    fail "stop: the job is neither pending nor scheduled: $(cat "$T/stream.txt")"
say "stop: a command still running is killed as workqd exits"
say "ok"
