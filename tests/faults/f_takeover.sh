#!/bin/sh
# Two daemons on one queue (consumers a and b), 100,000 jobs; a is
# SIGKILLed mid-run and not restarted.  b must take a's pending entries
# over within the takeover bound: a's lease lapses at most `takeover`
# after its last heartbeat, and b's janitor looks every `heartbeat`, so
# the bound is takeover + heartbeat (here 5 s + 1 s; plus 1 s of slack for
# a loaded machine).  Nothing lost; duplicates at most what a held (its
# workers + prefetch + outcomes not yet acknowledged).
. "$(dirname "$0")/common.sh"

redis_start
two_daemons
push_bg --count "$N" --rate 10000 --payload ms=2

wait_executed $((N / 3)) 60
takeover "SIGKILL a" kill9 "$A"
event heal "b took a's $HELD entries over"
say "takeover began after $BEGAN ms (bound 6000 ms), all $HELD entries taken after $TOOK ms"
[ "$BEGAN" -le 7000 ] || fail "takeover began after $BEGAN ms (bound 6000 ms + 1000 ms slack)"

push_wait
check --wait 120 --faults 1 --max-dups "$HELD" || fail "takeover"
