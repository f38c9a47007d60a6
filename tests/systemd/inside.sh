#!/bin/sh
# Runs as the oneshot runner inside the test container (see run.sh), as
# root under systemd as PID 1.  Each step checks one promise of issue 6.6;
# any failure exits 1, which ends the container with that status.  The
# journal is saved to /wqtest-out/journal.txt either way.
set -eu

U=workqd.service
CONF=/opt/workqd/etc/workqd/workqd.yaml
OUT=/wqtest-out

say() {
	echo "inside: $*"
}

save_journal() {
	journalctl --no-pager -o short-monotonic > "$OUT/journal.txt" 2>&1 || true
}

fail() {
	echo "inside: FAIL: $*"
	for u in $U redis-test.service; do
		systemctl show -p ActiveState,SubState,Result,NRestarts,MainPID,StatusText "$u" |
		    sed "s/^/  $u: /"
	done
	save_journal
	exit 1
}

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms.
wait_until() {
	limit=$1
	shift
	end=$(( $(date +%s) + limit ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

prop() {
	systemctl show -p "$2" --value "$1"
}
running() {
	[ "$(prop "${1:-$U}" ActiveState)/$(prop "${1:-$U}" SubState)" = active/running ]
}
status_has() {
	prop "${2:-$U}" StatusText | grep -q -- "$1"
}
restarted() {
	[ "$(prop $U NRestarts)" -eq "$1" ] && running &&
	    [ "$(prop $U MainPID)" != "$2" ]
}
# No restart other than the ones the test causes.
restarts_are() {
	[ "$(prop $U NRestarts)" -eq "$1" ] ||
	    fail "NRestarts is $(prop $U NRestarts), expected $1 ($2)"
	[ "$(journal_count "Failed with result 'watchdog'")" -eq "$3" ] ||
	    fail "$(journal_count "Failed with result 'watchdog'") watchdog kills, expected $3 ($2)"
}
rcli() {
	redis-cli -h 127.0.0.1 -p 6379 "$@"
}
journal() {
	journalctl --no-pager -o cat -u "${1:-$U}"
}
journal_count() {
	journal | grep -c -- "$1" || true
}
logged() {
	[ "$(journal_count "$1")" -ge "${2:-1}" ]
}
held() {
	rcli XPENDING "workq:$1" workqd - + 1000 "$2" | awk 'NR % 4 == 1' | grep -c . || true
}
settled() {
	[ "$(rcli XLEN "workq:$1")" -eq 0 ] &&
	    [ "$(rcli XPENDING "workq:$1" workqd | head -n 1)" -eq 0 ]
}
now_ms() {
	date +%s%3N
}

# 1. Started with Redis still down: start returns after READY=1 and the
# unit runs; the Redis state and why it is down are in StatusText.
systemctl start $U || fail "systemctl start failed"
running || fail "not active (running) right after start returned"
logged 'configuration OK' || fail "ExecStartPre (workqd -t) did not run"
wait_until 5 status_has '^redis down: ' || fail "StatusText does not show Redis down"
say "started with Redis down: active (running); status: $(prop $U StatusText)"
[ "$(ps -o user= -p "$(prop $U MainPID)")" = workqd ] ||
    fail "not running as the dynamic user workqd"

systemctl start redis-test.service || fail "redis-test did not start"
wait_until 10 status_has '^redis connected; ' ||
    fail "StatusText does not show Redis connected (the password credential?)"
say "Redis up: $(prop $U StatusText)"

# 2. Pushed jobs are processed.
i=0
while [ $i -lt 50 ]; do
	echo "XADD workq:default * payload hello-$i"
	i=$((i + 1))
done | rcli > /dev/null
wait_until 10 settled default || fail "the jobs were not all processed"
[ "$(journal_count 'echo: job .*: hello-')" -eq 50 ] ||
    fail "$(journal_count 'echo: job .*: hello-') of 50 jobs logged"
wait_until 5 status_has '; 50 done' || fail "StatusText does not count the jobs"
say "50 jobs processed: $(prop $U StatusText)"

# 3. SIGKILL of the main process: restarted, nothing lost.
restarts_are 0 "before SIGKILL" 0
pid=$(prop $U MainPID)
i=0
while [ $i -lt 12 ]; do
	echo "XADD workq:slow * id kill-$i payload 500"
	i=$((i + 1))
done | rcli > /dev/null
wait_until 10 logged 'slow\[-\]: job kill-.*: started' 4 || fail "the slow jobs did not start"
systemctl kill -s KILL --kill-who=main $U
wait_until 20 restarted 1 "$pid" || fail "not restarted after SIGKILL"
wait_until 30 settled slow || fail "jobs lost or stuck after the restart"
done_ids=$(journal | sed -n 's/.*slow\[-\]: job \(kill-[0-9]*\): done after.*/\1/p' | sort -u | wc -l)
[ "$done_ids" -eq 12 ] || fail "$done_ids of 12 jobs done after SIGKILL"
say "SIGKILL: restarted (NRestarts $(prop $U NRestarts)), all 12 jobs done"

# 4. A wedged loop: the watchdog (3 s in the test) kills it, systemd
# restarts it, and the job that wedged it dies as a poison pill.
restarts_are 1 "after SIGKILL" 0
pid=$(prop $U MainPID)
rcli XADD workq:wedge '*' id wedge-1 payload 20000 > /dev/null
wait_until 30 restarted 2 "$pid" || fail "a wedged loop was not restarted"
journalctl --no-pager -o cat -u $U | grep -q 'Watchdog timeout' ||
    fail "no watchdog timeout in the journal"
logged "Failed with result 'watchdog'" || fail "the restart was not the watchdog's"
wedge_dead() { [ "$(rcli XLEN '{workq:wedge}:dead')" -eq 1 ]; }
wait_until 10 wedge_dead ||
    fail "the wedging job was not dead-lettered"
rcli XRANGE '{workq:wedge}:dead' - + | grep -qx poison ||
    fail "the wedging job's dead.reason is not poison"
wait_until 10 status_has '^redis connected; ' || fail "not connected after the watchdog restart"
say "watchdog: killed and restarted (NRestarts $(prop $U NRestarts)); the wedging job dead-lettered as poison"

# 5. Reload: same main PID, the new worker count in effect.
restarts_are 2 "after the watchdog" 1
pid=$(prop $U MainPID)
sed -i 's|^workers: 4 |workers: 3 |' $CONF
systemctl reload $U || fail "systemctl reload failed"
[ "$(prop $U MainPID)" = "$pid" ] || fail "reload changed the main PID"
wait_until 10 logged 'reloaded .*workers 4 -> 3' || fail "the reload did not apply workers"
wait_until 5 status_has '; [0-9]*/3 busy' || fail "StatusText does not show 3 workers"
running || fail "not running after the reload"
say "reload: MainPID kept, workers 4 -> 3: $(prop $U StatusText)"

# 6. Stop under load: 3 jobs running, 3 fetched: the running ones finish,
# the others are handed back, Result=success well before TimeoutStopSec.
restarts_are 2 "after the reload" 1
i=0
while [ $i -lt 6 ]; do
	echo "XADD workq:slow * id stop-$i payload 2000"
	i=$((i + 1))
done | rcli > /dev/null
wait_until 10 logged 'slow\[-\]: job stop-.*: started' 3 || fail "the stop jobs did not start"
t0=$(now_ms)
systemctl stop $U || fail "systemctl stop failed"
t1=$(now_ms)
[ "$(prop $U Result)" = success ] || fail "stop: Result=$(prop $U Result)"
[ "$(prop $U ActiveState)" = inactive ] || fail "stop: $(prop $U ActiveState)"
[ $((t1 - t0)) -lt 45000 ] || fail "stop took $((t1 - t0)) ms"
[ "$(journal_count 'slow\[-\]: job stop-.*: done after 2000 ms')" -eq 3 ] ||
    fail "the running jobs did not finish before the stop"
logged 'stopped cleanly' || fail "not stopped cleanly"
[ "$(held slow workqd:handback)" -eq 3 ] ||
    fail "$(held slow workqd:handback) of 3 unstarted jobs handed back"
say "stop under load: Result=success in $((t1 - t0)) ms; 3 finished, 3 handed back"

# 7. The template: its own config, its consumer name from -i; it takes
# over the handed-back jobs at once.
sed 's|^consumer: ""|consumer: ""|' $CONF > /opt/workqd/etc/workqd/second.yaml
systemctl start workqd@second.service || fail "workqd@second did not start"
running workqd@second.service || fail "workqd@second is not running"
wait_until 15 settled slow || fail "workqd@second did not run the handed-back jobs"
rcli XINFO CONSUMERS workq:slow workqd | grep -q ':second$' ||
    fail "no consumer <host>:second"
systemctl stop workqd@second.service
[ "$(prop workqd@second.service Result)" = success ] || fail "workqd@second stop"
say "template: workqd@second ran the handed-back jobs as <host>:second"

# 8. The IP allow list is enforced: without localhost in it, Redis is
# out of reach (the BPF firewall drops the packets: the connect times
# out), and the status says so.
cp $CONF /opt/workqd/etc/workqd/fenced.yaml
systemctl start workqd@fenced.service || fail "workqd@fenced did not start"
wait_until 10 status_has '^redis down: connect timed out' workqd@fenced.service ||
    fail "Redis reachable despite IPAddressAllow= (status: $(prop workqd@fenced.service StatusText))"
systemctl stop workqd@fenced.service
say "IPAddressAllow= enforced: $(journal workqd@fenced.service | grep -m1 'redis cmd:')"

save_journal
say "ok"
