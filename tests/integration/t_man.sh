#!/bin/sh
# The manual pages (issue 6.8): workqd(8) and workqd.yaml(5) render with
# man(1) without a single warning, `make install` puts them in man8 and
# man5, workqd.yaml(5) documents every key of the sample configuration
# etc/workqd.yaml, and workqd(8) every option of `workqd -h` and every
# signal the daemon handles.
. "$(dirname "$0")/../lib.sh"

command -v man >/dev/null || fail "man is not installed (make deps: man-db)"
for p in daemon/workqd.8 daemon/workqd.yaml.5; do
	warn=$(MANWIDTH=80 man --warnings -l "$TOP/$p" 2>&1 >/dev/null)
	[ -z "$warn" ] || fail "$p: $warn"
	lines=$(MANWIDTH=80 man -l "$TOP/$p" 2>/dev/null | wc -l)
	[ "$lines" -gt 100 ] || fail "$p renders to $lines lines"
done

make -s -C "$TOP" O="$O" DESTDIR="$T/stage" install >"$T/make.log" 2>&1 ||
    fail "make install failed: $(tail -n 5 "$T/make.log")"
[ -f "$T/stage/usr/local/share/man/man8/workqd.8" ] || fail "workqd.8 not installed"
[ -f "$T/stage/usr/local/share/man/man5/workqd.yaml.5" ] || fail "workqd.yaml.5 not installed"

# Every key of the sample, by its dotted name for nested ones (the queue
# keys are listed under `queues` by their own names).
python3 - "$TOP/etc/workqd.yaml" "$TOP/daemon/workqd.yaml.5" <<'EOF' || fail "workqd.yaml(5) misses keys"
import re, sys

sample = open(sys.argv[1]).read().splitlines()
page = open(sys.argv[2]).read()
# The page's key names, with troff's \- turned back into -.
text = page.replace("\\-", "-")
missing, stack = [], []                 # stack: (column, key)
for line in sample:
    m = re.match(r"^( *)(- )?([a-z_]+):", line)
    if not m:
        continue
    col = len(m.group(1)) + (2 if m.group(2) else 0)
    while stack and stack[-1][0] >= col:
        stack.pop()
    stack.append((col, m.group(3)))
    keys = [k for _, k in stack]
    if keys[0] == "plugins" and len(keys) > 1:
        continue                        # plugin names, not keys
    # The queue keys are listed under `queues` by their own names.
    name = ".".join(keys[1:] if keys[0] == "queues" and len(keys) > 1 else keys)
    if not re.search(r"^\.(B|BR|TP|BI) .*\b%s\b" % re.escape(name), text, re.M):
        missing.append(name)
if missing:
    sys.exit("undocumented keys: " + ", ".join(sorted(set(missing))))
EOF

# Every option of the usage text, every signal.
for opt in $("$WORKQD" -h | sed -n 's/^  *-\([a-zA-Z]\) .*/\1/p'); do
	grep -Eq '^\.BI? \\-'"$opt"'( |$)' "$TOP/daemon/workqd.8" ||
	    fail "workqd.8 does not describe option -$opt"
done
for sig in SIGTERM SIGINT SIGHUP; do
	grep -q "$sig" "$TOP/daemon/workqd.8" || fail "workqd.8 does not describe $sig"
done
say "ok"
