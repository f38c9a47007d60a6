#!/bin/sh
# tests/bench/run.sh: the benchmark behind `make bench` (README, Performance).
#
# Every scenario gets its own redis-server on a unix socket in a private
# directory (no persistence), so no scenario inherits another's memory or
# stream.  The figures:
#
#   ceiling         Redis alone, driven by tests/bench/wqload with workqd's
#                   own commands (XREADGROUP COUNT <batch> and the ack
#                   script, EVAL'd exactly as workqd sends it), one client
#                   with two reads in flight, no workqd: the most this Redis
#                   gives workqd's command mix.  Also the same read with
#                   XACK + XTRIM MINID instead of the script, and with COUNT
#                   100, and (ceiling_small) on a SMALL_BACKLOG stream.
#                   Redis's CPU time per job in it gives its capacity
#                   (one core / that time), which other tenants of the
#                   cores disturb less than the ceiling's jobs/s.
#   drain_async     a pre-filled backlog of BACKLOG entries drained by
#                   workqd with the no-op async plugin; timed from the first
#                   acknowledgement to the last (wqload drain starts workqd
#                   and polls XLEN: the ack script trims the stream, so it
#                   reaches 0 when the last batch is acknowledged).  Startup
#                   (exec to first acknowledgement: plugin load, connect,
#                   first read) is left out and printed as startup_ms.
#   drain_small     the same with SMALL_BACKLOG entries, SMALL_RUNS times
#                   (median): a drain that slows with the backlog has an
#                   O(n) step somewhere.
#   drain_blocking  BACKLOG entries with the no-op blocking plugin: every job
#                   crosses the executor's thread boundary and back.
#   drain_shipped   the blocking drain with etc/workqd.yaml's settings (8
#                   workers, prefetch 64, 4 executor threads, executor queue
#                   64) and DEFAULTS_BACKLOG entries: what a user gets
#                   without tuning.
#   steady          workqd's acknowledgement rate over STEADY_SECS while a
#                   producer pushes flat out (100 XADDs per pipelined batch)
#                   on the same machine.
#   latency_R       push-to-start latency at R jobs/s for LAT_SECS, workqd
#                   idle beforehand, measured by the noop_latency plugin
#                   (push time stamped by wqload, CLOCK_REALTIME on both
#                   sides); beside it the floor: a plain blocking consumer
#                   timed the same way, with no workqd at all.
#
# Beside each throughput: workqd's CPU time per job (all threads, from
# /proc/PID/task/*/schedstat; utime+stime from /proc/PID/stat agrees within
# a tick), Redis's CPU per job, workqd's peak RSS (VmHWM), the batches
# workqd used (from INFO commandstats), the fraction of the ceiling, and
# `others`: the share of the machine's CPU that went to processes other
# than workqd, Redis and wqload during the measurement (other tenants of
# the cores; a figure taken with a high share is not comparable).
#
# Knobs (environment): BACKLOG (1000000), SMALL_BACKLOG (10000), SMALL_RUNS
# (9), DEFAULTS_BACKLOG (200000), STEADY_SECS (10), LAT_SECS (10),
# LAT_RATES ("1000 10000"), WORKERS (256), PREFETCH (1000), THREADS (2),
# SCENARIOS (all: "drain_async drain_small drain_blocking drain_shipped
# steady latency"; the ceiling always runs), KEEP=1 keeps the directory.
# Output: a table, then one `BENCH name=... key=value ...` line per figure.

# The integration tests' harness: a private directory and redis-server,
# a trap that kills what was started (track), wait_until, rcli, fail.
. "$(dirname "$0")/../lib.sh"
NAME=bench
WQLOAD=$O/tests/bench/wqload
PLUGIN_DIR=$TEST_PLUGIN_DIR

BACKLOG=${BACKLOG:-1000000}
SMALL_BACKLOG=${SMALL_BACKLOG:-10000}
SMALL_RUNS=${SMALL_RUNS:-9}
STEADY_SECS=${STEADY_SECS:-10}
LAT_SECS=${LAT_SECS:-10}
LAT_RATES=${LAT_RATES:-1000 10000}
WORKERS=${WORKERS:-256}
PREFETCH=${PREFETCH:-1000}
THREADS=${THREADS:-2}
EXEC_QUEUE=$(( WORKERS > 1000 ? WORKERS : 1000 ))
DEFAULTS_BACKLOG=${DEFAULTS_BACKLOG:-200000}
# workqd never reads more than 1000 entries at once, nor more than the room
# in its local queue: the ceiling reads in batches of that size.
CEIL_BATCH=$(( PREFETCH < 1000 ? PREFETCH : 1000 ))

for f in "$WORKQD" "$WQLOAD" "$PLUGIN_DIR/noop_async.so" \
    "$PLUGIN_DIR/noop_blocking.so" "$PLUGIN_DIR/noop_latency.so"; do
	[ -e "$f" ] || fail "$f is missing: run make bench"
done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	fail "redis-server and redis-cli are needed"

RESULTS=$T/results
: > "$RESULTS"

# Progress on stderr: stdout carries the table and the BENCH lines.
say() {
	printf '%s\n' "$*" >&2
}

wqload() {
	"$WQLOAD" -s "$SOCK" "$@"
}

# workqd_config PLUGIN [CONFIG LINES FOR THE PLUGIN]
workqd_config() {
	cat > "$T/workqd.yaml" <<-EOF
	log:
	  level: warning
	redis:
	  address: unix:$SOCK
	consumer: bench
	workers: $WORKERS
	prefetch: $PREFETCH
	executor:
	  threads: $THREADS
	  queue: $EXEC_QUEUE
	plugin_dir: $PLUGIN_DIR
	plugins:
	  $1: {${2:-}}
	queues:
	  - name: bench
	    plugin: $1
	EOF
	# The metrics endpoint stays on, as deployed, on a free port.
	if grep -q '^http:' "$TOP/etc/workqd.yaml"; then
		printf 'http:\n  listen: 127.0.0.1:0\n' >> "$T/workqd.yaml"
	fi
}

workqd_start() {
	"$WORKQD" -c "$T/workqd.yaml" >>"$T/workqd.log" 2>&1 &
	WQ_PID=$!
	track "$WQ_PID"
}

# Graceful stop (SIGTERM), as at the end of any run: the plugins' fini runs.
workqd_stop() {
	kill -TERM "$WQ_PID" 2>/dev/null || true
	set +e
	wait "$WQ_PID"
	st=$?
	set -e
	untrack "$WQ_PID"
	[ "$st" -eq 0 ] || fail "workqd exited with status $st"
}

# Blocked in XREADGROUP on its fetch connection: idle and ready.
workqd_idle() {
	rcli CLIENT LIST | grep 'name=workqd-fetch' | grep -q 'flags=b'
}

# val KEY LINE: the value of KEY=... in a key=value line.
val() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# cmdstat CMD: "calls usec" of INFO commandstats for CMD.
cmdstat() {
	rcli INFO commandstats | tr -d '\r' |
	    sed -n "s/^cmdstat_$1:calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2/p"
}

# record NAME KEY=VALUE...: one figure.
record() {
	echo "BENCH name=$*" >> "$RESULTS"
}

# div A B [DIGITS]: A / B as a decimal.
div() {
	awk -v a="$1" -v b="$2" -v d="${3:-3}" \
	    'BEGIN { if (b == 0) print "nan"; else printf "%.*f\n", d, a / b }'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
	    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- machine

machine() {
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	[ -n "$model" ] || model=$(uname -m)
	redis_v=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	# How busy the machine was before we started: others share the cores.
	s1=$(head -n 1 /proc/stat)
	sleep 1
	s2=$(head -n 1 /proc/stat)
	busy=$(printf '%s\n%s\n' "$s1" "$s2" | awk '
	    { idle[NR] = $5 + $6; tot[NR] = 0; for (i = 2; i <= NF; i++) tot[NR] += $i }
	    END { t = tot[2] - tot[1]; printf "%.0f", (t > 0 ? 100 * (1 - (idle[2] - idle[1]) / t) : 0) }')
	MACHINE="nproc=$(nproc) cpu_model=\"$model\" kernel=$(uname -r) redis=$redis_v loadavg=\"$load\" busy_before_pct=$busy"
	record "machine $MACHINE"
	say "bench: $(nproc) cores ($model), kernel $(uname -r), Redis $redis_v; load $load, ${busy}% busy before the run"
}

# ---------------------------------------------------------------- ceiling

ceiling() {
	say "bench: ceiling: Redis alone with workqd's commands, $BACKLOG entries"
	redis_start
	wqload fill "$BACKLOG" > "$T/fill.out"
	l=$("$WQLOAD" -s "$SOCK" -r "$REDIS_PID" -b "$CEIL_BATCH" ceiling "$BACKLOG" script)
	CEILING=$(val jobs_per_s "$l")
	CAPACITY=$(awk -v u="$(val redis_cpu_us_per_job "$l")" \
	    'BEGIN { printf "%.0f", (u > 0 ? 1e6 / u : 0) }')
	record "ceiling mix=script batch=$CEIL_BATCH jobs=$(val jobs "$l") jobs_per_s=$CEILING redis_cpu_us_per_job=$(val redis_cpu_us_per_job "$l") others_pct=$(val others_pct "$l")"
	record "capacity jobs_per_s=$CAPACITY"
	record "fill jobs=$BACKLOG push_per_s=$(val jobs_per_s "$(cat "$T/fill.out")")"

	wqload fill "$BACKLOG" > /dev/null
	l=$("$WQLOAD" -s "$SOCK" -r "$REDIS_PID" -b "$CEIL_BATCH" ceiling "$BACKLOG" raw)
	record "ceiling_raw mix=xack+xtrim batch=$CEIL_BATCH jobs=$(val jobs "$l") jobs_per_s=$(val jobs_per_s "$l") redis_cpu_us_per_job=$(val redis_cpu_us_per_job "$l") others_pct=$(val others_pct "$l")"

	wqload fill "$BACKLOG" > /dev/null
	l=$("$WQLOAD" -s "$SOCK" -r "$REDIS_PID" -b 100 ceiling "$BACKLOG" script)
	record "ceiling_b100 mix=script batch=100 jobs=$(val jobs "$l") jobs_per_s=$(val jobs_per_s "$l") redis_cpu_us_per_job=$(val redis_cpu_us_per_job "$l") others_pct=$(val others_pct "$l")"
	ceiling_small
	redis_stop
}

# The same mix on a SMALL_BACKLOG stream, SMALL_RUNS times (median): how
# much of drain_small's lead over drain_async is Redis's own.
ceiling_small() {
	: > "$T/ceil_small"
	i=0
	while [ "$i" -lt "$SMALL_RUNS" ]; do
		wqload fill "$SMALL_BACKLOG" > /dev/null
		"$WQLOAD" -s "$SOCK" -r "$REDIS_PID" -b "$CEIL_BATCH" \
		    ceiling "$SMALL_BACKLOG" script >> "$T/ceil_small"
		i=$(( i + 1 ))
	done
	rate=$(while read -r l; do val jobs_per_s "$l"; done < "$T/ceil_small" | median)
	rcpu=$(while read -r l; do val redis_cpu_us_per_job "$l"; done < "$T/ceil_small" | median)
	oth=$(while read -r l; do val others_pct "$l"; done < "$T/ceil_small" | median)
	record "ceiling_small mix=script batch=$CEIL_BATCH jobs=$SMALL_BACKLOG runs=$SMALL_RUNS jobs_per_s=$rate redis_cpu_us_per_job=$rcpu others_pct=$oth"
}

# ---------------------------------------------------------------- drains

# drain_once PLUGIN N: one drain on the running Redis; sets DRAIN to
# wqload's line plus the batches workqd used.  wqload starts workqd itself
# (its clock starts at the exec) and stops it with SIGTERM at the end.
drain_once() {
	wqload fill "$2" > /dev/null
	rcli CONFIG RESETSTAT > /dev/null
	workqd_config "$1"
	DRAIN=$("$WQLOAD" -s "$SOCK" -r "$REDIS_PID" drain "$2" -- \
	    "$WORKQD" -c "$T/workqd.yaml" 2>>"$T/workqd.log") ||
	    fail "drain of $2 jobs with $1: $DRAIN"
	[ "$(val exit "$DRAIN")" = 0 ] ||
	    fail "workqd exited with status $(val exit "$DRAIN") after the drain"
	# shellcheck disable=SC2046 # "calls usec" pairs, split on purpose
	set -- $(cmdstat xreadgroup) $(cmdstat eval)
	jobs=$(val window_jobs "$DRAIN")
	DRAIN="$DRAIN reads=$1 read_batch=$(div "$jobs" "$1" 0) redis_read_us_per_job=$(div "$2" "$jobs") acks=$3 ack_batch=$(div "$jobs" "$3" 0) redis_ack_us_per_job=$(div "$4" "$jobs")"
}

# drain NAME PLUGIN N
drain() {
	say "bench: $1: $3 entries with $2"
	redis_start
	drain_once "$2" "$3"
	redis_stop
	record "$1 plugin=$2 jobs=$3 jobs_per_s=$(val jobs_per_s "$DRAIN") ceiling_frac=$(div "$(val jobs_per_s "$DRAIN")" "$CEILING") $(echo "$DRAIN" | cut -d' ' -f4- | sed 's/jobs_per_s=[0-9]* //')"
}

# The executor path as shipped: etc/workqd.yaml's workers 8, prefetch 64,
# 4 executor threads, executor queue 64.
drain_defaults() {
	set -- "$WORKERS" "$PREFETCH" "$THREADS" "$EXEC_QUEUE"
	WORKERS=8 PREFETCH=64 THREADS=4 EXEC_QUEUE=64
	drain drain_shipped noop_blocking "$DEFAULTS_BACKLOG"
	WORKERS=$1 PREFETCH=$2 THREADS=$3 EXEC_QUEUE=$4
}

drain_small() {
	say "bench: drain_small: $SMALL_BACKLOG entries with noop_async, $SMALL_RUNS runs"
	redis_start
	: > "$T/small"
	i=0
	while [ "$i" -lt "$SMALL_RUNS" ]; do
		drain_once noop_async "$SMALL_BACKLOG"
		echo "$DRAIN" >> "$T/small"
		i=$(( i + 1 ))
	done
	redis_stop
	rate=$(while read -r l; do val jobs_per_s "$l"; done < "$T/small" | median)
	cpu=$(while read -r l; do val cpu_us_per_job "$l"; done < "$T/small" | median)
	rss=$(while read -r l; do val rss_kib "$l"; done < "$T/small" | median)
	oth=$(while read -r l; do val others_pct "$l"; done < "$T/small" | median)
	all=$(while read -r l; do val jobs_per_s "$l"; done < "$T/small" | tr '\n' ',' | sed 's/,$//')
	record "drain_small plugin=noop_async jobs=$SMALL_BACKLOG runs=$SMALL_RUNS jobs_per_s=$rate ceiling_frac=$(div "$rate" "$CEILING") cpu_us_per_job=$cpu rss_kib=$rss others_pct=$oth each=$all"
}

# ---------------------------------------------------------------- steady

steady() {
	say "bench: steady: noop_async for ${STEADY_SECS}s while a producer pushes flat out"
	redis_start
	workqd_config noop_async
	workqd_start
	wait_until 10 workqd_idle || fail "workqd did not start"
	"$WQLOAD" -s "$SOCK" -b 100 rate 0 $(( STEADY_SECS + 2 )) > "$T/producer.out" &
	prod=$!
	track "$prod"
	l=$("$WQLOAD" -s "$SOCK" -w "$WQ_PID" -r "$REDIS_PID" -x "$prod" steady "$STEADY_SECS" 1)
	wait "$prod" || fail "producer failed"
	untrack "$prod"
	workqd_stop
	redis_stop
	record "steady plugin=noop_async jobs=$(val jobs "$l") jobs_per_s=$(val jobs_per_s "$l") ceiling_frac=$(div "$(val jobs_per_s "$l")" "$CEILING") push_per_s=$(val jobs_per_s "$(cat "$T/producer.out")") backlog_start=$(val backlog_start "$l") backlog_end=$(val backlog_end "$l") cpu_us_per_job=$(val cpu_us_per_job "$l") redis_cpu_us_per_job=$(val redis_cpu_us_per_job "$l") rss_kib=$(val rss_kib "$l") others_pct=$(val others_pct "$l")"
}

# ---------------------------------------------------------------- latency

latency() {
	rate=$1
	out=$T/latency-$rate.txt
	say "bench: latency_$rate: ${LAT_SECS}s at $rate jobs/s, workqd idle before"
	redis_start
	workqd_config noop_latency "out: $out"
	workqd_start
	wait_until 10 workqd_idle || fail "workqd did not start"
	sleep 1				# idle: janitor and heartbeat settled
	p=$("$WQLOAD" -s "$SOCK" -w "$WQ_PID" -r "$REDIS_PID" rate "$rate" "$LAT_SECS")
	workqd_stop			# fini writes $out
	[ -s "$out" ] || fail "noop_latency wrote no $out"
	l=$(cat "$out")
	# The floor: a plain consumer, same producer, no workqd.
	"$WQLOAD" -s "$SOCK" -q floor floor $(( LAT_SECS + 1 )) > "$T/floor.out" &
	fl=$!
	track "$fl"
	floor_ready() { rcli CLIENT LIST | grep 'cmd=xreadgroup' | grep -q 'flags=b'; }
	wait_until 10 floor_ready || fail "the floor consumer did not start"
	pf=$("$WQLOAD" -s "$SOCK" -r "$REDIS_PID" -x "$fl" -q floor rate "$rate" "$LAT_SECS")
	wait "$fl" || fail "floor consumer failed"
	untrack "$fl"
	f=$(cat "$T/floor.out")
	redis_stop
	record "latency_$rate offered=$rate pushed_per_s=$(val jobs_per_s "$p") count=$(val count "$l") missing=$(val missing "$l") p50_us=$(val p50_us "$l") p90_us=$(val p90_us "$l") p99_us=$(val p99_us "$l") p999_us=$(val p999_us "$l") max_us=$(val max_us "$l") cpu_us_per_job=$(val cpu_us_per_job "$p") rss_kib=$(val rss_kib "$p") others_pct=$(val others_pct "$p") floor_p50_us=$(val p50_us "$f") floor_p99_us=$(val p99_us "$f") floor_p999_us=$(val p999_us "$f") floor_others_pct=$(val others_pct "$pf")"
}

# ---------------------------------------------------------------- report

get() {
	l=$(grep "^BENCH name=$1 " "$RESULTS" || true)
	v=$(val "$2" "$l")
	echo "${v:--}"
}

# target NAME VALUE OP LIMIT TEXT
target() {
	ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {
	    if (v == "-" || v == "nan") { print "n/a"; exit }
	    r = op == ">=" ? v + 0 >= l + 0 : v + 0 <= l + 0
	    print r ? "PASS" : "MISS" }')
	printf '  %-44s %12s  %s %-10s %s\n' "$5" "$2" "$3" "$4" "$ok"
	echo "BENCH name=target_$1 value=$2 limit=$3$4 result=$ok" >> "$RESULTS"
}

report() {
	c=$CEILING
	echo
	echo "workqd benchmark: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)"
	echo "workers $WORKERS, prefetch $PREFETCH, executor threads $THREADS; Redis, the generator and workqd share the cores"
	echo
	fmt='%-14s %8s %8s %6s %8s %8s %8s %5s %5s %6s\n'
	printf "$fmt" figure jobs jobs/s "of ceil" "cpu us/j" "redis" \
	    "rss KiB" read ack others
	printf "$fmt" "" "" "" "" "workqd" "us/j" "peak" batch batch "cpu %"
	for n in ceiling ceiling_raw ceiling_b100 ceiling_small; do
		printf "$fmt" "$n" "$(get $n jobs)" "$(get $n jobs_per_s)" \
		    "$(div "$(get $n jobs_per_s)" "$c" 2)" - \
		    "$(get $n redis_cpu_us_per_job)" - "$(get $n batch)" \
		    "$(get $n batch)" "$(get $n others_pct)"
	done
	for n in drain_async drain_small drain_blocking drain_shipped steady; do
		printf "$fmt" "$n" "$(get $n jobs)" "$(get $n jobs_per_s)" \
		    "$(get $n ceiling_frac | cut -c1-4)" "$(get $n cpu_us_per_job)" \
		    "$(get $n redis_cpu_us_per_job)" "$(get $n rss_kib)" \
		    "$(get $n read_batch)" "$(get $n ack_batch)" \
		    "$(get $n others_pct)"
	done
	echo
	echo "Redis's capacity for workqd's mix (one core / its CPU per job in the ceiling): $(get capacity jobs_per_s) jobs/s"
	echo "pushes: fill $(get fill push_per_s) jobs/s; during steady $(get steady push_per_s) jobs/s (backlog $(get steady backlog_start) -> $(get steady backlog_end))"
	echo
	fmt='%-15s %7s %7s %7s %7s %7s %8s %6s   %s\n'
	printf "$fmt" "latency (us)" p50 p90 p99 p99.9 max "cpu us/j" others \
	    "floor p50/p99/p99.9 (others %)"
	for r in $LAT_RATES; do
		n=latency_$r
		printf "$fmt" "$r jobs/s" "$(get $n p50_us)" "$(get $n p90_us)" \
		    "$(get $n p99_us)" "$(get $n p999_us)" "$(get $n max_us)" \
		    "$(get $n cpu_us_per_job)" "$(get $n others_pct)" \
		    "$(get $n floor_p50_us)/$(get $n floor_p99_us)/$(get $n floor_p999_us) ($(get $n floor_others_pct))"
	done
	echo
	echo "targets (issue 8):"
	target drain_async "$(get drain_async jobs_per_s)" ">=" 100000 "no-op async drain, jobs/s"
	target drain_async_frac "$(get drain_async ceiling_frac)" ">=" 0.60 "no-op async drain, fraction of ceiling"
	target drain_blocking "$(get drain_blocking jobs_per_s)" ">=" 75000 "executor path drain, jobs/s"
	target latency_p99 "$(get latency_1000 p99_us)" "<=" 1000 "idle p99 push-to-start at 1,000/s, us"
	target rss "$(get drain_async rss_kib)" "<=" 32768 "RSS draining $BACKLOG (async), KiB"
	target rss_blocking "$(get drain_blocking rss_kib)" "<=" 32768 "RSS draining $BACKLOG (blocking), KiB"
	ratio=$(div "$(get drain_small jobs_per_s)" "$(get drain_async jobs_per_s)")
	target backlog_ratio "$ratio" ">=" 0.90 "drain $SMALL_BACKLOG vs $BACKLOG, ratio (>= 0.9)"
	target backlog_ratio_max "$ratio" "<=" 1.11 "drain $SMALL_BACKLOG vs $BACKLOG, ratio (<= 1.11)"
	# Redis alone shows the same effect of the stream's size, if any.
	rratio=$(div "$(get ceiling_small jobs_per_s)" "$(get ceiling jobs_per_s)")
	printf '  %-44s %12s  (information: Redis alone, no workqd)\n' \
	    "ceiling $SMALL_BACKLOG vs $BACKLOG, ratio" "$rratio"
	echo "BENCH name=ceiling_backlog_ratio value=$rratio" >> "$RESULTS"
	# CPU per job moves far less than jobs/s with the other tenants of
	# the cores: the steadier sign of a cost that grows with the backlog.
	cratio=$(div "$(get drain_async cpu_us_per_job)" "$(get drain_small cpu_us_per_job)")
	printf '  %-44s %12s  (information: %s vs %s)\n' \
	    "CPU per job, $BACKLOG vs $SMALL_BACKLOG, ratio" "$cratio" \
	    "$(get drain_async cpu_us_per_job)" "$(get drain_small cpu_us_per_job)"
	echo "BENCH name=backlog_cpu_ratio value=$cratio" >> "$RESULTS"
	echo
	cat "$RESULTS"
}

# SCENARIOS picks what runs (default: all, in this order).  The ceiling
# always runs: every throughput is a fraction of it.
SCENARIOS=${SCENARIOS:-drain_async drain_small drain_blocking drain_shipped steady latency}
start=$(date +%s)
machine
ceiling
for s in $SCENARIOS; do
	case $s in
	drain_async)	drain drain_async noop_async "$BACKLOG" ;;
	drain_small)	drain_small ;;
	drain_blocking)	drain drain_blocking noop_blocking "$BACKLOG" ;;
	drain_shipped)	drain_defaults ;;
	steady)		steady ;;
	latency)	for r in $LAT_RATES; do latency "$r"; done ;;
	ceiling)	;;
	*)		fail "unknown scenario $s" ;;
	esac
done
report
echo "BENCH name=runtime secs=$(( $(date +%s) - start ))"
