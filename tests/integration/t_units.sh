#!/bin/sh
# The units in systemd/ (issue 6.5), with their @...@ placeholders filled
# in the way `make install` fills them: `systemd-analyze verify --man=no`
# prints nothing for either (it exits 0 even on unknown keys and bad
# values, so any output is a failure), `systemd-analyze security
# --offline=yes` rates both 1.5 or better, and the settings the issue asks
# for are there: notify, watchdog, ExecStartPre=workqd -t, no restart on
# exit 78, a stop timeout above shutdown_timeout, the credential, and for
# the template its own config and consumer name.  Needs no running systemd.
. "$(dirname "$0")/../lib.sh"

command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (make deps)"

# As the Makefile's install target does, with a BINDIR that exists here:
# verify checks that the commands are executable.
for u in "$TOP"/systemd/*.service; do
	sed -e "s|@BINDIR@|$O/daemon|g" -e "s|@SYSCONFDIR@|/etc|g" \
	    -e "s|@PLUGINDIR@|$PLUGIN_DIR|g" "$u" > "$T/${u##*/}"
done
[ -f "$T/workqd.service" ] && [ -f "$T/workqd@.service" ] || fail "missing unit"
grep -n '@[A-Z]*@' "$T"/*.service && fail "placeholders left after substitution"

for u in workqd.service workqd@.service; do
	out=$(cd "$T" && systemd-analyze verify --man=no "./$u" 2>&1) ||
	    fail "verify $u failed: $out"
	[ -z "$out" ] || fail "verify $u: $out"
	line=$(cd "$T" && systemd-analyze security --offline=yes "./$u" 2>&1 | grep 'Overall exposure level')
	score=$(echo "$line" | sed 's/.*: \([0-9.]*\) .*/\1/')
	awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 1.5) }' ||
	    fail "$u: exposure $score (> 1.5): $line"
	say "$u: verify clean, exposure $score"
done

has() {
	grep -qx -- "$2" "$T/$1" || fail "$1 lacks: $2"
}
for u in workqd.service workqd@.service; do
	has "$u" 'Type=notify'
	has "$u" 'NotifyAccess=main'
	has "$u" 'ExecReload=/bin/kill -HUP $MAINPID'
	has "$u" 'RestartPreventExitStatus=78'
	has "$u" 'KillMode=mixed'
	has "$u" 'DynamicUser=yes'
	has "$u" 'ProtectSystem=strict'
	has "$u" 'NoNewPrivileges=yes'
	has "$u" 'MemoryDenyWriteExecute=yes'
	has "$u" 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'
	has "$u" 'IPAddressDeny=any'
	has "$u" 'IPAddressAllow=localhost'
	grep -q '^SystemCallFilter=@system-service$' "$T/$u" || fail "$u: no system call filter"
	grep -q '^LoadCredential=redis-password:' "$T/$u" || fail "$u: no credential"
	grep -q '^WatchdogSec=[1-9]' "$T/$u" || fail "$u: no watchdog"
	# The stop timeout leaves room for shutdown_timeout and the flush.
	stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$T/$u")
	drain=$(sed -n 's/^shutdown_timeout: *\([0-9]*\)s .*/\1/p' "$TOP/etc/workqd.yaml")
	[ -n "$stop" ] && [ -n "$drain" ] && [ "$stop" -ge $((drain + 10)) ] ||
	    fail "$u: TimeoutStopSec=${stop}s vs shutdown_timeout ${drain}s"
done
has workqd.service "ExecStartPre=$O/daemon/workqd -t -c /etc/workqd/workqd.yaml"
has workqd.service "ExecStart=$O/daemon/workqd -c /etc/workqd/workqd.yaml"
has workqd@.service "ExecStartPre=$O/daemon/workqd -t -c /etc/workqd/%i.yaml"
has workqd@.service "ExecStart=$O/daemon/workqd -c /etc/workqd/%i.yaml -i %i"

# The checks can fail: a typo and a weakened unit are caught.
sed 's/^KillMode=mixed/KillMod=mixed/' "$T/workqd.service" > "$T/bad.service"
[ -n "$(cd "$T" && systemd-analyze verify --man=no ./bad.service 2>&1)" ] ||
    fail "verify did not report an unknown key"
sed '/^SystemCallFilter=/d; /^ProtectSystem=/d; /^CapabilityBoundingSet=/d' \
    "$T/workqd.service" > "$T/weak.service"
score=$(cd "$T" && systemd-analyze security --offline=yes ./weak.service 2>&1 |
    sed -n 's/.*Overall exposure level.*: \([0-9.]*\) .*/\1/p')
awk -v s="$score" 'BEGIN { exit !(s + 0 > 1.5) }' || fail "a weakened unit still scored $score"
say "ok"
