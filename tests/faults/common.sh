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

# redis_down: SHUTDOWN (AOF flushed); redis_start brings the same server
# back on the same socket and directory.
redis_down() {
	rcli SHUTDOWN >/dev/null 2>&1 || true
	wait "$REDIS_PID" 2>/dev/null || true
	untrack "$REDIS_PID"
}

# consumer_pending NAME: entries pending for consumer NAME (0 if none).
consumer_pending() {
	rcli --raw XINFO CONSUMERS workq:default workqd 2>/dev/null | awk -v c="$1" '
	    prev == "name" { n = $0 }
	    prev == "pending" && n == c { p = $0 }
	    { prev = $0 }
	    END { print p + 0 }'
}

# two_daemons: consumers a and b on the queue, in the background (A and B
# their PIDs), configured by fconfig's environment (HEARTBEAT, TAKEOVER...).
two_daemons() {
	CONSUMER=a fconfig "$T/a.yaml"
	CONSUMER=b fconfig "$T/b.yaml"
	workqd_start "$T/a.yaml" "$T/a.log"
	A=$WQ_PID
	workqd_start "$T/b.yaml" "$T/b.log"
	B=$WQ_PID
}

# kill9 PID: SIGKILL, and reaped.
kill9() {
	kill -9 "$1"
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

# takeover WHAT COMMAND...: once a holds entries, runs COMMAND (the fault,
# WHAT in the events) and waits for b to take a's entries over.  Sets T0
# (ms) when the fault began, HELD, the most entries a held after it (a
# frozen daemon's blocked read may still be served), and BEGAN and TOOK
# (ms from T0 to the first and the last entry taken).  Only what a held
# can run twice: HELD bounds the duplicates, and it is at most workers +
# prefetch + a's outcomes not yet acknowledged.
takeover() {
	what=$1
	shift
	a_holds() { [ "$(consumer_pending a)" -gt 0 ]; }
	wait_until 10 a_holds || fail "a holds no entries"
	T0=$(now_ms)
	"$@"
	HELD=$(consumer_pending a)
	[ "$HELD" -gt 0 ] || fail "a held nothing after $what"
	event fault "$what, a holding $HELD entries"
	a_taken() {
		n=$(consumer_pending a)
		[ "$n" -le "$HELD" ] || HELD=$n
		[ "$n" -lt "$HELD" ]
	}
	wait_until 30 a_taken || fail "a's entries were not taken over in 30 s"
	BEGAN=$(( $(now_ms) - T0 ))
	a_empty() { [ "$(consumer_pending a)" -eq 0 ]; }
	wait_until 30 a_empty ||
	    fail "a's entries were not all taken over in 30 s"
	TOOK=$(( $(now_ms) - T0 ))
}

# push_bg ARGS...: push in the background, its summary in $T/push.out;
# push_wait waits for it, fails if it failed, and shows the summary.
push_bg() {
	push "$@" > "$T/push.out" 2>&1 &
	PUSH=$!
	track $PUSH
}

push_wait() {
	wait_exit $PUSH
	[ "$STATUS" -eq 0 ] || fail "the producer failed: $(cat "$T/push.out")"
	cat "$T/push.out"
}

# redis_behind_proxy: Redis on a loopback port (PORT, ADDR) and a socat
# proxy in front of it (port PROXY; SOCAT leads its process group, which a
# test freezes with kill -STOP -$SOCAT to cut the line).
redis_behind_proxy() {
	PORT=$(free_port)
	PROXY=$(free_port)
	redis_start --port "$PORT" --bind 127.0.0.1
	ADDR=127.0.0.1:$PORT
	setsid socat TCP-LISTEN:"$PROXY",fork,reuseaddr,bind=127.0.0.1 \
	    TCP:127.0.0.1:"$PORT" 2>"$T/socat.log" &
	SOCAT=$!
	track_group $SOCAT	# its forks for each connection too
	proxy_up() { redis-cli -h 127.0.0.1 -p "$PROXY" PING; }
	wait_until 10 proxy_up || fail "socat did not start"
}
