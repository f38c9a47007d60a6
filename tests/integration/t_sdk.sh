#!/bin/sh
# The README's plugin example, as a plugin author meets it: the first C
# block of README.md's "## Writing a plugin" is built out of tree with the
# one documented command, against the header and workqd.pc laid out as
# `make install` lays them out; workqd -t checks its settings; it runs a
# job, and dead-letters another with the reason it gives.
#
# WQ_README picks another file (to try a draft of the text).
. "$(dirname "$0")/../lib.sh"

README=${WQ_README:-$TOP/README.md}
awk '/^## Writing a plugin/ { on = 1; next }
    on && /^## / { exit }
    on && /^```c$/ { code = 1; next }
    code && /^```$/ { exit }
    code { print }' "$README" > "$T/append.c"
[ -s "$T/append.c" ] ||
    fail "$README has no C example under '## Writing a plugin'"

# The installed layout of the SDK: the header and workqd.pc.
STAGE=$T/stage
make -s -C "$TOP" O="$T/pc" PREFIX=/usr "$T/pc/workqd.pc" > "$T/make.log" 2>&1 ||
    fail "cannot make workqd.pc: $(cat "$T/make.log")"
mkdir -p "$STAGE/usr/include/workqd" "$STAGE/usr/lib/pkgconfig" "$T/plugins"
cp "$TOP/core/include/workqd/plugin.h" "$STAGE/usr/include/workqd/"
cp "$T/pc/workqd.pc" "$STAGE/usr/lib/pkgconfig/"
PKG_CONFIG_PATH=$STAGE/usr/lib/pkgconfig
export PKG_CONFIG_PATH

# The documented command, then a strict build linked with -z defs.
(cd "$T" && cc -shared -fPIC $(pkg-config --cflags workqd) append.c \
    -o plugins/append.so) > "$T/cc.log" 2>&1 ||
    fail "the README's example does not build: $(cat "$T/cc.log")"
(cd "$T" && cc -std=c11 -Wall -Wextra -Werror -fPIC \
    $(pkg-config --cflags --libs workqd) append.c -o strict.so) \
    > "$T/cc.log" 2>&1 || fail "the example is not warning-free: $(cat "$T/cc.log")"
chmod 755 "$T/plugins/append.so"
cp "$PLUGIN_DIR/echo.so" "$T/plugins/"

redis_start
config "$T/bad.yaml" -e "s|^plugin_dir: .*|plugin_dir: $T/plugins|" \
    -e "s|^  sleep: {}|  append: {path: $T/out.txt, mode: x}|"
set +e
"$WORKQD" -t -c "$T/bad.yaml" > "$T/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] && grep -q "^$T/bad.yaml:[0-9]*:[0-9]*: unknown key 'mode'" "$T/out" ||
    fail "workqd -t on a misspelt key: exit $rc: $(cat "$T/out")"

config "$T/w.yaml" -e "s|^plugin_dir: .*|plugin_dir: $T/plugins|" \
    -e "s|^  sleep: {}|  append: {path: $T/out.txt}|"
"$WORKQD" -t -c "$T/w.yaml" > "$T/out" 2>&1 || fail "workqd -t: $(cat "$T/out")"
workqd_start "$T/w.yaml"
workqd_wait_ready
rcli XADD workq:default '*' plugin append id first payload hello >/dev/null
rcli XADD workq:default '*' plugin append id empty payload '' >/dev/null
wait_until 10 grep -qx 'first hello' "$T/out.txt" ||
    fail "the example did not append the payload"
wait_until 10 sh -c "redis-cli -s $SOCK XRANGE '{workq:default}:dead' - + | grep -qx 'empty payload'" ||
    fail "the example's WQ_DEAD did not dead-letter with its error"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
say "ok: the README's example builds with pkg-config and runs jobs"
