#!/bin/sh
# The command line: -t on good and bad configs (exit 78 with
# file:line:column: message), -V, -h, an unknown option (exit 64), and a
# daemon that refuses a bad config at start with the same message.
. "$(dirname "$0")/../lib.sh"

# expect_check CODE PATTERN CONFIG: workqd -t exits CODE, output matches.
expect_check() {
	set +e
	"$WORKQD" -t -c "$3" > "$T/out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq "$1" ] || fail "-t on $3: exit $rc, expected $1: $(cat "$T/out")"
	grep -q -- "$2" "$T/out" || fail "-t on $3 printed: $(cat "$T/out"), expected /$2/"
}

config "$T/good.yaml"
expect_check 0 '^configuration OK$' "$T/good.yaml"

config "$T/key.yaml" -e 's|^workers: 8 |wrkers: 8 |'
expect_check 78 "^$T/key.yaml:[0-9]*:1: unknown key 'wrkers'" "$T/key.yaml"

config "$T/type.yaml" -e 's|^workers: 8 |workers: eight |'
expect_check 78 "^$T/type.yaml:[0-9]*:10: workers: expected an integer" "$T/type.yaml"

config "$T/plugin.yaml" -e 's|^  sleep: {}|  nosuch: {}|'
expect_check 78 "^$T/plugin.yaml:[0-9]*:3: plugin 'nosuch': .*/nosuch.so: No such file" \
    "$T/plugin.yaml"

config "$T/queue.yaml" -e 's|    plugin: echo |    plugin: other|'
expect_check 78 "^$T/queue.yaml:[0-9]*:[0-9]*: queue 'default': plugin 'other' is not loaded" \
    "$T/queue.yaml"

printf 'workers: [1\n' > "$T/syntax.yaml"
expect_check 78 "^$T/syntax.yaml:[0-9]*:[0-9]*: " "$T/syntax.yaml"

expect_check 78 "$T/missing.yaml: No such file or directory" "$T/missing.yaml"

# Running (not -t) refuses the same way, with the message in the log.
set +e
"$WORKQD" -c "$T/key.yaml" > "$T/run.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "workqd on a bad config exited $rc, not 78"
grep -q "^<3>$T/key.yaml:[0-9]*:1: unknown key 'wrkers'" "$T/run.out" ||
    fail "workqd on a bad config said: $(cat "$T/run.out")"

"$WORKQD" -V | grep -q '^workqd [0-9][0-9.]*$' || fail "-V"
"$WORKQD" -h | grep -q '^usage: workqd' || fail "-h"
set +e
"$WORKQD" -Z > "$T/out" 2>&1
rc=$?
"$WORKQD" -c "$T/good.yaml" extra > /dev/null 2>&1
rc2=$?
set -e
[ "$rc" -eq 64 ] && grep -q '^usage: workqd' "$T/out" || fail "unknown option: exit $rc"
[ "$rc2" -eq 64 ] || fail "a stray argument: exit $rc2"
say "ok"
