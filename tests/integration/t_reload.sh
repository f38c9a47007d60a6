#!/bin/sh
# SIGHUP (issue 6.3), on one daemon that never restarts:
#  1. a good new config applies live: workers, log level, a new queue,
#     the plugin's own config (a new instance: new jobs see the new tag),
#     while the job running on the old instance finishes on it and only
#     then is the old instance finalized; RELOADING=1 with MONOTONIC_USEC=
#     and then READY=1 reach $NOTIFY_SOCKET;
#  2. a config with an error, or a plugin that cannot load, is refused with
#     its error and the running config is kept;
#  3. settings that need a restart are logged as such and left alone;
#  4. hot swap: the plugin file replaced (mv), new jobs run the new object,
#     the running job finishes on the old one, which is then unloaded;
#  5. many reloads under load lose and repeat no job;
#  6. STATUS= was only sent when it changed, at most once a second.
. "$(dirname "$0")/../lib.sh"

mkdir -p "$T/plugins"
install -m 0644 "$TEST_PLUGIN_DIR/slow.so" "$T/plugins/slow.so"
install -m 0644 "$PLUGIN_DIR/sleep.so" "$T/plugins/swap.so"
LOG=$T/workqd.log
NOTES=$T/notify.txt

# conf WORKERS LEVEL TAG [extra queue]: the config file, rewritten in place
# the way an admin would (a new file moved over the old one).
conf() {
	cat > "$T/w.yaml.new" <<EOF
log: { level: $2 }
redis: { address: "unix:$SOCK" }
consumer: ${CONSUMER:-one}
workers: $1
prefetch: 16
plugin_dir: $T/plugins
plugins:
  slow: { tag: $3 }
  swap: {}
queues:
  - name: default
    plugin: slow
  - name: swapped
    plugin: swap
EOF
	if [ -n "${4:-}" ]; then
		printf '  - name: %s\n    plugin: slow\n' "$4" >> "$T/w.yaml.new"
	fi
	mv "$T/w.yaml.new" "$T/w.yaml"
}

logged() {
	[ "$(grep -c -- "$1" "$LOG" || true)" -ge "${2:-1}" ]
}
line_of() {
	grep -n -- "$1" "$LOG" | head -n 1 | cut -d: -f1
}
push() {
	rcli XADD "workq:$1" '*' payload "$2" >/dev/null
}
hup() {
	n=$(grep -c 'READY=1' "$NOTES" || true)
	kill -HUP "$WQ_PID"
	wait_until 10 ready_after "$n" || fail "no READY=1 after SIGHUP"
	kill -0 "$WQ_PID" || fail "workqd died on SIGHUP"
}
# The last STATUS= says a job runs.
busy_now() {
	grep 'STATUS=redis' "$NOTES" | tail -n 1 | grep -q '; 1/[0-9]* busy'
}
ready_after() {
	[ "$(grep -c 'READY=1' "$NOTES" || true)" -gt "$1" ]
}

notify_listen "$NOTES"

redis_start
conf 2 info a
NOTIFY_SOCKET=$T/notify.sock workqd_start "$T/w.yaml" "$LOG"
started=$(date +%s)
workqd_wait_ready "$LOG"
wait_until 5 grep -q '^READY=1' "$NOTES" || fail "no READY=1 at start"
# Idle, the status does not change, so it is not sent again.
connected() {
	[ "$(grep -c '^STATUS=redis connected' "$NOTES" || true)" -ge "$1" ]
}
wait_until 5 connected 1 || fail "no STATUS= redis connected"
wait_until 3 connected 2 && fail "an unchanged STATUS= was sent again"

# 1. A good config, while a job runs on the old instance.
push default 1500
wait_until 10 logged 'slow\[a\]: job .*: started' || fail "job 1 did not start"
conf 3 debug b extra
hup
logged 'workqd: reloaded .*workers 2 -> 3' || fail "workers not applied"
status_now() {
	grep '^STATUS=redis\|^READY=1' "$NOTES" | tail -n 1 | grep -q -- "$1"
}
wait_until 5 status_now '/3 busy' || fail "the pool did not grow to 3 workers"
logged 'workqd: reloaded .*log level info -> debug' || fail "log level not applied"
grep 'RELOADING=1' "$NOTES" | grep -q 'MONOTONIC_USEC=[0-9][0-9]*' ||
    fail "RELOADING=1 without MONOTONIC_USEC="
[ "$(grep -n 'RELOADING=1' "$NOTES" | tail -n 1 | cut -d: -f1)" -lt \
    "$(grep -n 'READY=1' "$NOTES" | tail -n 1 | cut -d: -f1)" ] ||
    fail "READY=1 did not follow RELOADING=1"
logged 'slow\[a\]: fini' && fail "the old instance went while its job ran"
push default 10
push extra 10
wait_until 10 logged 'slow\[b\]: job .*: done after 10 ms' 2 ||
    fail "new jobs (also on the new queue) did not run on the new instance"
wait_until 10 logged 'slow\[a\]: fini' || fail "the old instance was never finalized"
[ "$(line_of 'slow\[a\]: job .*: done after 1500')" -lt "$(line_of 'slow\[a\]: fini')" ] ||
    fail "the old instance was finalized before its last job ended"
logged 'previous plugins ended; they are unloaded' || fail "unload not logged"
logged '^<7>' || fail "log level debug not in effect"
say "reload: workers, log level, new queue, plugin config applied; old instance after its job"

# 2. Refused: a bad key, then a plugin that cannot load.
sed -i 's/^workers: 3/wrkers: 3/' "$T/w.yaml"
hup
logged "reload refused: $T/w.yaml:[0-9]*:1: unknown key 'wrkers'; keeping" ||
    fail "a bad config was not refused with its position"
conf 3 debug c extra
sed -i 's/^  swap: {}/  swap: {}\n  missing: {}/' "$T/w.yaml"
hup
logged "reload refused: .*plugin 'missing': .*missing.so: No such file" ||
    fail "a missing plugin was not refused"
push default 10
wait_until 10 logged 'slow\[b\]: job .*: done after 10 ms' 3 ||
    fail "the running config was not kept"
logged 'slow\[b\]: fini' && fail "a refused reload unloaded the running plugins"
say "refused: bad key and missing plugin, running config kept"

# 3. Restart-only settings.
CONSUMER=two conf 3 debug b extra
hup
logged 'consumer changed to two: needs a restart; still using one' ||
    fail "a consumer change was not reported as needing a restart"
push default 10
wait_until 10 logged 'slow\[b\]: job .*: done after 10 ms' 4 || fail "job after restart-only change"
rcli XINFO CONSUMERS workq:default workqd | grep -qx two &&
    fail "the consumer name changed without a restart"
conf 3 debug b extra
hup
logged 'consumer changed to one' && fail "compared with the last config, not the running one"

# 4. Hot swap of a replaced file: swap.so, the sleep plugin so far,
# becomes the echo plugin.
push swapped 1500
wait_until 10 busy_now || fail "the swap job did not start"
install -m 0644 "$PLUGIN_DIR/echo.so" "$T/plugins/swap.so.new"
mv "$T/plugins/swap.so.new" "$T/plugins/swap.so"
hup
push swapped hello-new-object
wait_until 10 logged 'swap: job .*: hello-new-object$' ||
    fail "a new job did not run on the new object"
wait_until 10 logged 'swap: job .*: slept 1500 ms' ||
    fail "the job on the old object did not finish"
wait_until 10 logged 'previous plugins ended; they are unloaded' 2 ||
    fail "the old object was not unloaded after its job"
[ "$(grep -n 'swap: job .*: slept 1500 ms' "$LOG" | cut -d: -f1)" -lt \
    "$(grep -n 'previous plugins ended' "$LOG" | tail -n 1 | cut -d: -f1)" ] ||
    fail "the old object was unloaded before its job ended"
say "hot swap: new jobs on the new file, the running job finished on the old one"

# 5. Reloads under load: 200 jobs, 10 reloads; each job runs once.
i=0
while [ $i -lt 200 ]; do
	echo "XADD workq:default * payload 5"
	i=$((i + 1))
done > "$T/push.txt"
rcli < "$T/push.txt" > "$T/pushed.ids"
i=0
while [ $i -lt 10 ]; do
	conf $((2 + i % 3)) debug "t$i" extra
	hup
	i=$((i + 1))
done
all_done() {
	[ "$(grep -c 'done after 5 ms' "$LOG")" -ge 200 ] && [ "$(pending default)" = 0 ]
}
wait_until 60 all_done || fail "only $(grep -c 'done after 5 ms' "$LOG") of 200 done"
sed -n 's/.*job \([0-9-]*\) done in.*/\1/p' "$LOG" | sort > "$T/ran.all"
sort "$T/pushed.ids" > "$T/pushed.sorted"
join "$T/pushed.sorted" "$T/ran.all" > "$T/ran.ids"
[ "$(wc -l < "$T/ran.ids")" -eq 200 ] || fail "$(wc -l < "$T/ran.ids") of 200 pushed jobs ran (or some twice)"
[ "$(uniq -d "$T/ran.ids" | wc -l)" -eq 0 ] || fail "jobs ran twice"
say "10 reloads under load: 200 jobs, each ran once"
# With no job running, no older config is kept (only the boot one, for
# the restart-only comparison, which is not counted).
hup
grep 'older config(s) kept' "$LOG" | tail -n 1 | grep -q ': 0 older config' ||
    fail "configs pile up: $(grep 'older config(s) kept' "$LOG" | tail -n 1)"

# STATUS= went out only when it changed, and at most once a second.
grep '^STATUS=redis' "$NOTES" > "$T/status.txt" || fail "no STATUS="
[ -z "$(uniq -d "$T/status.txt")" ] || fail "STATUS= repeated unchanged: $(uniq -d "$T/status.txt" | head -n 1)"
n=$(wc -l < "$T/status.txt")
[ "$n" -le $(( $(date +%s) - started + 1 )) ] || fail "$n STATUS= in $(( $(date +%s) - started )) s"
grep -q '^STATUS=redis connected; 0/[0-9]* busy; 0/16 queued; [0-9]* jobs/s; [0-9]* done, [0-9]* failed$' "$T/status.txt" ||
    fail "STATUS= text: $(tail -n 1 "$T/status.txt")"

kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "exit status $STATUS"
say "ok"
