#!/bin/sh
# The plugin loader as an operator meets it: workqd -t (and workqd itself)
# refuses each bad plugin file with exit 78 and
# "file:line:column: plugin 'NAME': <plugin_dir>/NAME.so: <reason>":
# a wrong ABI, a descriptor too small, no descriptor, no handler, two
# handlers, a duplicate name, a group- or world-writable file, a symbolic
# link, a file owned by someone else, and an init that fails (seen by the
# daemon: -t does not run init).  A refused file runs none of its code.
. "$(dirname "$0")/../lib.sh"

FIX=$O/tests/fixtures
DIR=$T/plugins
mkdir -p "$DIR"
cp "$PLUGIN_DIR/echo.so" "$DIR/"

# install FIXTURE [AS]: a copy of a fixture .so in the plugin directory.
install_fixture() {
	cp "$FIX/$1.so" "$DIR/${2:-$1}.so"
	chmod 755 "$DIR/${2:-$1}.so"
}

# conf FILE PLUGIN...: the sample config loading echo and PLUGINs.
conf() {
	file=$1
	shift
	list=""
	for p in "$@"; do
		list="$list\n  $p: {}"
	done
	config "$file" -e "s|^plugin_dir: .*|plugin_dir: $DIR|" \
	    -e "s|^  sleep: {}|$list|" -e '/^$/d'
}

# refused NAME REASON [PLUGIN...]: workqd -t exits 78 naming the file.
refused() {
	name=$1
	reason=$2
	shift 2
	conf "$T/$name.yaml" "${@:-$name}"
	set +e
	"$WORKQD" -t -c "$T/$name.yaml" > "$T/out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 78 ] || fail "$name: workqd -t exited $rc, not 78: $(cat "$T/out")"
	grep -qx "$T/$name.yaml:[0-9]*:3: plugin '$name': $DIR/$name.so: $reason" \
	    "$T/out" || fail "$name: workqd -t said: $(cat "$T/out")"
}

install_fixture bad_abi
refused bad_abi "plugin ABI 99, workqd needs 1"
install_fixture small_size
refused small_size "descriptor too small: 16 bytes, ABI 1 needs [0-9]*"
install_fixture no_descriptor
refused no_descriptor "no symbol workqd_plugin"
install_fixture no_handler
refused no_handler "no handler: set run or start"
install_fixture two_handlers
refused two_handlers "two handlers: set run or start, not both"

install_fixture good_async
install_fixture dup_name
refused dup_name "duplicate plugin name 'good_async' (also declared by $DIR/good_async.so)" \
    good_async dup_name

install_fixture good_blocking writable
chmod 775 "$DIR/writable.so"
refused writable "is writable by group or others"
chmod 757 "$DIR/writable.so"
refused writable "is writable by group or others"

install_fixture good_blocking target
ln -s target.so "$DIR/link.so"
refused link "is a symbolic link"

if [ "$(id -u)" -eq 0 ]; then
	install_fixture good_blocking alien
	chown 12345 "$DIR/alien.so"
	refused alien "owned by uid 12345, not by root or by workqd's user"
fi

# No code of a refused file runs: its constructor would leave a mark.
install_fixture ctor_marker
WQ_TEST_CTOR_MARKER=$T/ctor-ran
export WQ_TEST_CTOR_MARKER
refused ctor_marker "plugin ABI 99, workqd needs 1"
[ ! -e "$T/ctor-ran" ] || fail "the refused plugin's constructor ran"

# The good ones pass -t; an init that fails is refused when workqd starts.
install_fixture good_blocking
conf "$T/good.yaml" good_async good_blocking
"$WORKQD" -t -c "$T/good.yaml" > "$T/out" 2>&1 || fail "good plugins: $(cat "$T/out")"
install_fixture init_fails
conf "$T/init.yaml" init_fails
redis_start
set +e
"$WORKQD" -c "$T/init.yaml" > "$T/init.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "init_fails: workqd exited $rc, not 78: $(cat "$T/init.log")"
grep -q "^<3>$T/init.yaml:[0-9]*:3: plugin 'init_fails': $DIR/init_fails.so: init failed$" \
    "$T/init.log" || fail "init_fails: workqd said: $(cat "$T/init.log")"

# The daemon refuses a bad file the same way -t does.
conf "$T/abi.yaml" bad_abi
set +e
"$WORKQD" -c "$T/abi.yaml" > "$T/abi.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "bad_abi: workqd exited $rc, not 78"
grep -q "^<3>$T/abi.yaml:[0-9]*:3: plugin 'bad_abi': $DIR/bad_abi.so: plugin ABI 99, workqd needs 1$" \
    "$T/abi.log" || fail "bad_abi: workqd said: $(cat "$T/abi.log")"
say "ok: every refusal names the file and the reason, exit 78"
