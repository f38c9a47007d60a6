#!/bin/sh
# The installed unit under a real systemd (issue 6.6).
#
# Boots the host's own systemd as PID 1 in a systemd-nspawn container
# (volatile root: a fresh tmpfs with the host's /usr read-only; a private
# network with only lo) straight into a test target whose oneshot runner,
# tests/systemd/inside.sh, drives workqd.service and a redis-server unit
# beside it with systemctl and reports through its exit status, which
# nspawn passes on (SuccessAction=exit, FailureAction=exit).
#
# What runs inside is what `make install` produced: the tree is staged
# with DESTDIR into this test's directory and bound to /opt/workqd, and
# the installed units get /usr/local replaced by /opt/workqd.  The config
# directory is bound writable (the runner edits it for the reload check);
# the Redis password reaches workqd as a credential from /etc/credstore.
#
# Needs root, systemd-nspawn (systemd-container) and redis-server.  Runs
# in about 25 s; bounded by `timeout` here and in the Makefile.  See
# ../../../shared/reference/systemd-nspawn.md for the traps worked around
# (first boot, the empty /etc, cgroups, a SIGKILLed nspawn).
#
# Usage: O=<build dir> sh tests/systemd/run.sh   (make check-systemd)
# KEEP=1 keeps the test directory (journal.txt, runner.log, nspawn.log).
set -eu

: "${O:=.}"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OREL=$O
O=$(cd "$TOP" && cd "$O" && pwd)
NAME=systemd
T=$(mktemp -d "${TMPDIR:-/tmp}/workqd-systemd.XXXXXX")
CG=workqd-test-$$
CGROUPS="/sys/fs/cgroup/systemd /sys/fs/cgroup/unified"
NSPAWN_TIMEOUT=${NSPAWN_TIMEOUT:-150}
PASSWORD=s3cret-$$

say() {
	echo "$NAME: $*"
}

fail() {
	echo "FAIL $NAME: $*" >&2
	for f in "$T/out/runner.log" "$T/nspawn.log"; do
		[ -s "$f" ] || continue
		echo "--- last lines of $f" >&2
		tail -n 40 "$f" >&2
	done
	if [ -s "$T/out/journal.txt" ]; then
		echo "--- last lines of the container's journal (workqd)" >&2
		grep -E 'workqd|redis-test' "$T/out/journal.txt" | tail -n 40 >&2
	fi
	exit 1
}

# Where this shell was in each hierarchy before it moved to its own.
ORIG_SYSTEMD=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/$$/cgroup)
ORIG_UNIFIED=$(sed -n 's/^0:://p' /proc/$$/cgroup)
origin() {
	case $1 in
	*/unified) echo "$ORIG_UNIFIED" ;;
	*) echo "$ORIG_SYSTEMD" ;;
	esac
}

# Processes left in our cgroups (a container whose nspawn was killed)
# are killed by PID; then this shell goes back where it came from and the
# cgroups go, deepest first.
cleanup() {
	status=$?
	for root in $CGROUPS; do
		[ -d "$root/$CG" ] || continue
		echo $$ > "$root$(origin "$root")/cgroup.procs" 2>/dev/null ||
		    echo $$ > "$root/cgroup.procs" 2>/dev/null || true
		find "$root/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null |
		    while read -r pid; do
			[ "$pid" = $$ ] || kill -9 "$pid" 2>/dev/null || true
		done
		find "$root/$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true
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

[ "$(id -u)" -eq 0 ] || fail "needs root (systemd-nspawn)"
for c in systemd-nspawn redis-server redis-cli; do
	command -v "$c" >/dev/null || fail "$c is not installed (make deps)"
done
start=$(date +%s)

# The staged installation, plus the test plugins next to the real ones.
make -s -C "$TOP" O="$OREL" DESTDIR="$T/stage" install \
    "$OREL/tests/plugins/hog.so" "$OREL/tests/plugins/slow.so" \
    >"$T/make.log" 2>&1 || fail "make install failed: $(tail -n 5 "$T/make.log")"
S=$T/stage/usr/local
for p in hog slow; do
	install -m 0644 "$O/tests/plugins/$p.so" "$S/lib/workqd/plugins/$p.so"
done

# The units as installed, moved to /opt/workqd; a short watchdog for the
# test.  Then the test's own units: redis, the runner and its target.
mkdir -p "$T/units/workqd.service.d" "$T/out" "$T/inside" "$T/credstore" \
    "$T/etc"
for u in workqd.service workqd@.service; do
	sed 's|/usr/local|/opt/workqd|g' "$S/lib/systemd/system/$u" > "$T/units/$u"
done
printf '[Service]\nWatchdogSec=3s\n' > "$T/units/workqd.service.d/test.conf"
# An instance whose IP allow list leaves Redis out: the firewall must bite.
mkdir -p "$T/units/workqd@fenced.service.d"
printf '[Service]\nIPAddressAllow=\n' > "$T/units/workqd@fenced.service.d/test.conf"
cat > "$T/units/redis-test.service" <<EOF
[Unit]
Description=redis-server for the workqd test

[Service]
Type=notify
ExecStart=/usr/bin/redis-server --port 6379 --bind 127.0.0.1 --supervised systemd --daemonize no --save "" --appendonly no --requirepass $PASSWORD --dir /var/lib/redis-test --logfile ""
DynamicUser=yes
StateDirectory=redis-test
EOF
cat > "$T/units/wqtest.target" <<'EOF'
[Unit]
Description=workqd test
Requires=basic.target
After=basic.target
Wants=wqtest-runner.service
EOF
cat > "$T/units/wqtest-runner.service" <<EOF
[Unit]
Description=workqd test runner
After=basic.target
SuccessAction=exit
FailureAction=exit

[Service]
Type=oneshot
Environment=REDISCLI_AUTH=$PASSWORD
ExecStart=/bin/sh /wqtest/inside.sh
StandardOutput=append:/wqtest-out/runner.log
StandardError=inherit
TimeoutStartSec=$((NSPAWN_TIMEOUT - 20))s
EOF
cp "$TOP/tests/systemd/inside.sh" "$T/inside/inside.sh"

# The config: the installed sample pointed at the test's Redis (TCP on
# lo, through IPAddressAllow=localhost) with its password as a credential,
# and the test plugins and queues added.
cp -p "$S/etc/workqd/workqd.yaml" "$T/etc/installed.yaml"
sed -e 's|^plugin_dir: /usr/local/|plugin_dir: /opt/workqd/|' \
    -e 's|address: unix:/run/redis/redis-server.sock|address: 127.0.0.1:6379|' \
    -e 's|password_file: ""|password_file: redis-password|' \
    -e 's|^workers: 8 |workers: 4 |' \
    -e 's|^  sleep: {}|  sleep: {}\n  hog: {}\n  slow: {}|' \
    "$T/etc/installed.yaml" > "$T/etc/workqd.yaml"
cat >> "$T/etc/workqd.yaml" <<'EOF'
  - name: slow
    plugin: slow
  - name: wedge             # a job that wedges the loop dies on its
    plugin: hog             # second delivery (after the watchdog restart)
    max_deliveries: 1
EOF
rm "$T/etc/installed.yaml"
grep -q '^plugin_dir: /opt/workqd/lib/workqd/plugins' "$T/etc/workqd.yaml" ||
    fail "the installed config does not name the installed plugin directory"
for c in workqd workqd@second workqd@fenced; do
	printf '%s\n' "$PASSWORD" > "$T/credstore/$c.redis-password"
	chmod 0600 "$T/credstore/$c.redis-password"
done

# What the empty volatile /etc needs (see the reference note).
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$T/machine-id"
echo >> "$T/machine-id"
printf 'passwd: files systemd\ngroup: files systemd\nshadow: files\nhosts: files\n' \
    > "$T/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' > "$T/hosts"

# A cgroup of our own: with --keep-unit and no systemd on the host, nspawn
# puts the container into fixed sub-cgroups of its caller's cgroup.
KEEP_UNIT=--keep-unit
[ -d /run/systemd/system ] && KEEP_UNIT=
if [ -n "$KEEP_UNIT" ]; then
	for root in $CGROUPS; do
		[ -d "$root" ] || continue
		mkdir "$root/$CG"
		echo $$ > "$root/$CG/cgroup.procs"
	done
fi

say "booting systemd in a container"
set +e
timeout --kill-after=15 "$NSPAWN_TIMEOUT" systemd-nspawn --quiet --boot \
    --directory=/ --volatile=yes --register=no $KEEP_UNIT \
    --private-network --system-call-filter=bpf \
    --bind-ro="$T/machine-id:/etc/machine-id" \
    --bind-ro=/etc/alternatives --bind-ro=/etc/ld.so.cache \
    --bind-ro="$T/nsswitch.conf:/etc/nsswitch.conf" \
    --bind-ro="$T/hosts:/etc/hosts" \
    --bind-ro="$T/units:/etc/systemd/system" \
    --bind-ro="$T/credstore:/etc/credstore" \
    --bind-ro="$S:/opt/workqd" \
    --bind="$T/etc:/opt/workqd/etc/workqd" \
    --bind-ro="$T/inside:/wqtest" \
    --bind="$T/out:/wqtest-out" \
    -- systemd.unit=wqtest.target systemd.firstboot=off \
    systemd.mask=systemd-machine-id-commit.service systemd.show_status=false >"$T/nspawn.log" 2>&1
rc=$?
set -e
[ -s "$T/out/runner.log" ] && sed "s/^/  /" "$T/out/runner.log"
[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] &&
    fail "the container did not finish in ${NSPAWN_TIMEOUT}s (exit $rc)"
[ "$rc" -eq 0 ] || fail "the runner failed (exit $rc)"
grep -q '^inside: ok$' "$T/out/runner.log" || fail "the runner did not finish"
say "ok ($(( $(date +%s) - start ))s)"
