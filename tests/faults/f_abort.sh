#!/bin/sh
# Poison pills: 100,000 jobs, 5 of which make the plugin call abort(),
# killing the daemon.  workqd runs under a restart loop (as under
# systemd's Restart=).  Each pill is delivered, crashes the daemon and is
# resumed by the next start, until its delivery count passes
# max_deliveries (5): then it goes to the dead letters with reason
# `poison` instead of running.  Every other job runs; nothing is lost.
# Reported: crashes per pill.
. "$(dirname "$0")/common.sh"

PILLS="10000,30000,50000,70000,90000"
NPILLS=5
redis_start
fconfig "$T/w.yaml"
supervise wq "$T/w.yaml"
push --count "$N" --rate 10000 --payload ms=0 --abort "$PILLS" > "$T/push.out" 2>&1
cat "$T/push.out"
check --wait 120 --dead "$PILLS" --dead-reason poison > /dev/null || true
crashes=$(exits wq)
check --dead "$PILLS" --dead-reason poison --faults "$crashes" \
    --max-dups $((crashes * (8 + 64))) || fail "poison pills"
say "$crashes crashes for $NPILLS pills: $(echo "$crashes $NPILLS" | awk '{printf "%.1f", $1 / $2}') per pill (max_deliveries 5)"
[ "$crashes" -le $((NPILLS * 5)) ] || fail "$crashes crashes for $NPILLS pills"
[ "$crashes" -ge 1 ] || fail "no pill crashed the daemon"
# Time to quarantine: a pill's first crash to its dead letter (the
# crashes come in one burst per pill, the pills being far apart).
rcli --raw XRANGE '{workq:default}:dead' - + | awk '$0 == "dead.failed_at" { getline; print }' > "$T/dead.at"
python3 - "$T/wq.exits" "$T/dead.at" <<'EOP'
import sys
crashes = sorted(int(l.split()[0]) for l in open(sys.argv[1]))
dead = sorted(int(l) for l in open(sys.argv[2]))
for t in dead:
    first = min((c for c in crashes if c <= t and t - c < 60000), default=t)
    crashes = [c for c in crashes if c > t]
    print("f_abort: pill quarantined %d ms after its first crash" % (t - first))
EOP
