#!/bin/sh
# The README's first command (sh daemon/run-demo.sh), and `make run`: a
# private redis-server in ./run and workqd in the foreground on the sample
# config with the plugins just built.  Ctrl-C stops workqd (gracefully),
# then the private Redis.
#
# Run directly, on a machine that may not even have make, it first installs
# what is missing (daemon/deps.sh: make comes with build-essential) and
# builds; from `make run` (MAKELEVEL set) make has done both already.
set -eu

cd "$(dirname "$0")/.."
if [ -z "${MAKELEVEL:-}" ]; then
	sh daemon/deps.sh
	make -s --no-print-directory all
fi

TOP=$(pwd)
: "${O:=.}"
O=$(cd "$TOP" && cd "$O" && pwd)
# The run directory; WQ_RUN_DIR moves it (tests/integration/t_quickstart).
RUN=${WQ_RUN_DIR:-$TOP/run}
SHOW=${WQ_RUN_DIR:-run}		# as the messages name it
mkdir -p "$RUN"
SOCK=$RUN/redis.sock

if ! redis-cli -s "$SOCK" PING >/dev/null 2>&1; then
	redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 \
	    --dir "$RUN" --save '' --appendonly no --maxmemory-policy noeviction \
	    --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log"
	i=0
	until redis-cli -s "$SOCK" PING >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "redis-server did not start: see $RUN/redis.log"; exit 1; }
		sleep 0.05
	done
fi
stop_redis() {
	redis-cli -s "$SOCK" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
}
trap stop_redis EXIT
trap '' INT		# workqd gets Ctrl-C and stops; then we clean up

sed -e "s|@PLUGINDIR@|$O/plugins|" \
    -e "s|unix:/run/redis/redis-server.sock|unix:$SOCK|" \
    etc/workqd.yaml > "$RUN/workqd.yaml"

cat <<MSG
workqd runs below on a private Redis ($SHOW/redis.sock), with the sample
configuration ($SHOW/workqd.yaml).  In another terminal, push jobs:

  redis-cli -s $SHOW/redis.sock XADD workq:default '*' payload hello
  redis-cli -s $SHOW/redis.sock XADD workq:default '*' plugin sleep payload 500
  redis-cli -s $SHOW/redis.sock XADD workq:default '*' nopayload oops
  redis-cli -s $SHOW/redis.sock XRANGE '{workq:default}:dead' - +

Ctrl-C stops workqd, then the private Redis.
MSG
"$O/daemon/workqd" -c "$RUN/workqd.yaml" || true
