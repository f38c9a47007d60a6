# tests/lib.sh: what the integration tests share.  Source it, POSIX sh.
#
# Each test gets a private directory, its own redis-server on a unix socket
# in it (never the machine's Redis), and a trap that kills every process the
# test started and removes the directory.  Conditions are polled with a
# deadline (wait_until), never waited for with a bare sleep.
#
# O is the build directory (the Makefile exports it); KEEP=1 keeps the
# test directory for a post-mortem.

set -eu

: "${O:=.}"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
O=$(cd "$TOP" && cd "$O" && pwd)
WORKQD=$O/daemon/workqd
WORKQCTL=$O/daemon/workqctl
PLUGIN_DIR=$O/plugins
TEST_PLUGIN_DIR=$O/tests/plugins
T=$(mktemp -d "${TMPDIR:-/tmp}/workqd-test.XXXXXX")
SOCK=$T/redis.sock
PIDS=""
PGROUPS=""
NAME=$(basename "$0" .sh)

cleanup() {
	status=$?
	for g in $PGROUPS; do
		kill -9 "-$g" 2>/dev/null || true
	done
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$status" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
		echo "$NAME: files kept in $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
	echo "$NAME: $*"
}

fail() {
	echo "FAIL $NAME: $*" >&2
	for f in "$T"/*.log; do
		[ -e "$f" ] || continue
		echo "--- last lines of $f" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

track() {
	PIDS="$PIDS $1"
}

# track_group PGID: a whole process group (setsid, a command's own group),
# so that what its leader forked goes too.
track_group() {
	PGROUPS="$PGROUPS $1"
}

# untrack PID: a process that has been waited for (its PID may be reused).
untrack() {
	PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# wait_until SECONDS COMMAND...: polls COMMAND every 20 ms until it succeeds.
wait_until() {
	limit=$1
	shift
	end=$(( $(date +%s) + limit ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.02
	done
}

rcli() {
	redis-cli -s "$SOCK" "$@"
}

# now_ms: this machine's wall clock in Unix ms.
now_ms() {
	date +%s%3N
}

# free_port: a loopback TCP port nobody listens on (at the moment).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# notify_listen FILE: a stand-in for systemd's notify socket at
# $T/notify.sock (pass NOTIFY_SOCKET=$T/notify.sock to workqd); each
# datagram becomes one line of FILE, its newlines written as '|'.
notify_listen() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$T/notify.sock" "$1" &
	track $!
	wait_until 5 test -S "$T/notify.sock" || fail "notify listener"
	: >> "$1"
}

# redis_start [redis-server options...]: a private server on $SOCK.
redis_start() {
	redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 \
	    --dir "$T" --save '' --appendonly no --daemonize no \
	    --logfile "$T/redis.log" "$@" &
	REDIS_PID=$!
	track "$REDIS_PID"
	wait_until 10 rcli PING || fail "redis-server did not start"
}

redis_stop() {
	kill "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
	untrack "$REDIS_PID"
}

# config FILE [sed expressions...]: the sample config, pointed at this test
# (its metrics endpoint on a free port, so tests never compete for one).
config() {
	file=$1
	shift
	sed -e "s|@PLUGINDIR@|$PLUGIN_DIR|" \
	    -e "s|unix:/run/redis/redis-server.sock|unix:$SOCK|" \
	    -e "s|listen: 127.0.0.1:9187 |listen: 127.0.0.1:0 |" \
	    "$@" "$TOP/etc/workqd.yaml" > "$file"
}

# workqd_start CONFIG [LOG [args...]]: a daemon in the background.  With
# WQ_VALGRIND=1 it runs under valgrind's memcheck, which makes it exit 99
# on any memory error or leak (tests check the exit status).
workqd_start() {
	conf=$1
	log=${2:-$T/workqd.log}
	shift
	[ $# -gt 0 ] && shift
	if [ "${WQ_VALGRIND:-0}" = 1 ]; then
		set -- valgrind --quiet --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    "$WORKQD" -c "$conf" "$@"
	else
		set -- "$WORKQD" -c "$conf" "$@"
	fi
	"$@" >>"$log" 2>&1 &
	WQ_PID=$!
	track "$WQ_PID"
}

# workqd_wait_ready LOG: until the daemon has connected and created groups.
workqd_wait_ready() {
	wait_until 10 grep -q 'consumer ' "${1:-$T/workqd.log}" ||
	    fail "workqd did not start"
}

# pending QUEUE: entries pending in the consumer group.
pending() {
	rcli XPENDING "workq:$1" workqd 2>/dev/null | head -n 1
}

xlen() {
	rcli XLEN "workq:$1"
}

# wait_exit PID: waits for PID (a child of this shell) and sets STATUS to
# its exit status.  Not in $(...): a subshell cannot wait for our children.
wait_exit() {
	set +e
	wait "$1"
	STATUS=$?
	set -e
	untrack "$1"
}

# plugins NAME...: copies the named plugins (shipped or test ones) into
# $T/plugins, the plugin_dir of configs written with yaml_config.  Copies,
# not links: the loader refuses symbolic links.
plugins() {
	mkdir -p "$T/plugins"
	for p in "$@"; do
		if [ -f "$PLUGIN_DIR/$p.so" ]; then
			cp "$PLUGIN_DIR/$p.so" "$T/plugins/"
		else
			cp "$TEST_PLUGIN_DIR/$p.so" "$T/plugins/"
		fi
		chmod go-w "$T/plugins/$p.so"
	done
}

# yaml_config FILE: writes the common head of a test config (Redis, plugin
# directory, quick heartbeats) followed by what is on stdin.
yaml_config() {
	{
		cat <<HEAD
log:
  level: ${LOG_LEVEL:-info}
redis:
  address: unix:$SOCK
http:
  listen: 127.0.0.1:0
plugin_dir: $T/plugins
HEAD
		cat
	} > "$1"
}

# records FILE: lines written so far by the lifecycle test plugins.
records() {
	[ -f "$1" ] && wc -l < "$1" || echo 0
}
