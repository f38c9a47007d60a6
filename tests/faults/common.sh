# tests/faults/common.sh: what the fault tests share, on top of
# tests/lib.sh.  Source it from tests/faults/f_*.sh (POSIX sh).
#
# A fault test pushes jobs with push.py (which records the numbers Redis
# confirmed), runs workqd with the record plugin (one line per completed
# execution in $REC), injects its fault while the jobs run, writing each
# fault and heal to $EVENTS, and then lets check.py judge: nothing lost,
# nothing unexpected, Redis empty, duplicates and recovery times reported.

. "$(dirname "$0")/../lib.sh"

FAULTS=$TOP/tests/faults
REC=$T/record.log
EVENTS=$T/events
ADDR=unix:$SOCK
N=${N:-100000}
SUPERVISED=""

fault_cleanup() {
	_status=$?
	set +e
	for f in $SUPERVISED; do
		touch "$T/$f.stop"
	done
	for f in $SUPERVISED; do
		[ -s "$T/$f.pid" ] && kill -9 "$(cat "$T/$f.pid")" 2>/dev/null
	done
	(exit $_status)
	cleanup
}
trap fault_cleanup EXIT

now_ms() {
	date +%s%3N
}

# event fault|heal WHAT: a line for the checker's recovery times.
event() {
	echo "$(now_ms) $*" >> "$EVENTS"
	say "$*"
}

# fconfig FILE: a config for the record plugin.  Settings come from the
# environment: ADDR, CONSUMER, WORKERS, PREFETCH, PLUGIN (record|arecord),
# HEARTBEAT, TAKEOVER, SHUTDOWN, CMD_TIMEOUT, EXTRA (more top-level YAML).
fconfig() {
	cat > "$1" <<EOC
log:
  level: ${LOG_LEVEL:-info}
redis:
  address: $ADDR
  command_timeout: ${CMD_TIMEOUT:-5s}
${REDIS_EXTRA:-}
consumer: "${CONSUMER:-}"
workers: ${WORKERS:-8}
prefetch: ${PREFETCH:-64}
executor:
  threads: ${WORKERS:-8}
  queue: 64
shutdown_timeout: ${SHUTDOWN:-20s}
heartbeat: ${HEARTBEAT:-1s}
takeover: ${TAKEOVER:-5s}
stall_threshold: 0
http: ${HTTP:-off}
plugin_dir: $TEST_PLUGIN_DIR
plugins:
  record: { file: "$REC" }
  arecord: { file: "$REC" }
queues:
  - name: default
    plugin: ${PLUGIN:-record}
    max_deliveries: ${MAX_DELIVERIES:-5}
${EXTRA:-}
EOC
}

# push ARGS...: push.py against this test's Redis; runs in the foreground.
push() {
	python3 "$FAULTS/push.py" --redis "$ADDR" --ok "$T/ok.ids" \
	    --maybe "$T/maybe.ids" "$@"
}

# check ARGS...: check.py against this test's Redis and files; it also
# fails if the fetcher's watchdog ever had to act in any daemon's log (a
# fetcher that stalled and was restarted is a bug even if nothing was lost).
check() {
	python3 "$FAULTS/check.py" --redis "$ADDR" --ok "$T/ok.ids" \
	    --maybe "$T/maybe.ids" --record "$REC" --events "$EVENTS" \
	    --label "$NAME" "$@" || return 1
	! grep -h 'fetch: watchdog' "$T"/*.log || {
		echo "check: $NAME: the fetch watchdog acted" >&2
		return 1
	}
}

# executed: lines recorded so far.
executed() {
	if [ -e "$REC" ]; then wc -l < "$REC"; else echo 0; fi
}

# wait_executed COUNT SECS: until at least COUNT executions are recorded.
wait_executed() {
	_want=$1
	_more() { [ "$(executed)" -ge "$_want" ]; }
	wait_until "$2" _more || fail "only $(executed) executions after $2 s"
}

# supervise NAME CONFIG [args...]: runs workqd in a restart loop, as
# systemd's Restart=always would (without its delay), logging to
# $T/NAME.log, its current pid in $T/NAME.pid and one line per exit in
# $T/NAME.exits.  unsupervise NAME ends the loop after the current run.
supervise() {
	_n=$1
	_c=$2
	shift 2
	rm -f "$T/$_n.stop"
	(
		while [ ! -e "$T/$_n.stop" ]; do
			"$WORKQD" -c "$_c" "$@" >> "$T/$_n.log" 2>&1 &
			echo $! > "$T/$_n.pid"
			wait $! && _rc=0 || _rc=$?
			echo "$(now_ms) $_rc" >> "$T/$_n.exits"
		done
	) 2>>"$T/$_n.supervise" &
	track $!
	SUPERVISED="$SUPERVISED $_n"
}

unsupervise() {
	touch "$T/$1.stop"
}

# wq_pid NAME: the pid of the daemon the loop runs now.
wq_pid() {
	cat "$T/$1.pid"
}

# exits NAME: how many times the supervised daemon ended.
exits() {
	if [ -e "$T/$1.exits" ]; then wc -l < "$T/$1.exits"; else echo 0; fi
}

# redis_restart [redis-server options]: SHUTDOWN (AOF flushed), then the
# same server again on the same socket and directory.
redis_down() {
	rcli SHUTDOWN >/dev/null 2>&1 || true
	wait "$REDIS_PID" 2>/dev/null || true
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# consumer_pending NAME: entries pending for consumer NAME (0 if none).
consumer_pending() {
	rcli --raw XINFO CONSUMERS workq:default workqd 2>/dev/null | awk -v c="$1" '
	    prev == "name" { n = $0 }
	    prev == "pending" && n == c { p = $0 }
	    { prev = $0 }
	    END { print p + 0 }'
}
