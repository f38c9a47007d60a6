#!/bin/sh
# make install DESTDIR=... PREFIX=/usr lays out the daemon, plugins, header,
# pkg-config file, unit and config (keeping an existing config); a plugin
# built out of tree against the installed header and workqd.pc loads and
# runs jobs.
. "$(dirname "$0")/../lib.sh"

STAGE=$T/stage
make -s -C "$TOP" O="$T/build" DESTDIR="$STAGE" PREFIX=/usr install \
    >"$T/make.log" 2>&1 || fail "make install failed"
for f in usr/bin/workqd usr/lib/workqd/plugins/echo.so \
    usr/lib/workqd/plugins/sleep.so usr/include/workqd/plugin.h \
    usr/lib/pkgconfig/workqd.pc usr/lib/systemd/system/workqd.service \
    etc/workqd/workqd.yaml; do
	[ -f "$STAGE/$f" ] || fail "make install did not install /$f"
done
grep -q "^ExecStart=/usr/bin/workqd -c /etc/workqd/workqd.yaml" \
    "$STAGE/usr/lib/systemd/system/workqd.service" || fail "unit paths"
grep -q "^plugin_dir: /usr/lib/workqd/plugins" "$STAGE/etc/workqd/workqd.yaml" ||
    fail "the installed config does not point at the installed plugins"

# An existing config is never overwritten.
echo "# edited by the admin" >> "$STAGE/etc/workqd/workqd.yaml"
make -s -C "$TOP" O="$T/build" DESTDIR="$STAGE" PREFIX=/usr install \
    >>"$T/make.log" 2>&1 || fail "second make install failed"
grep -q "edited by the admin" "$STAGE/etc/workqd/workqd.yaml" ||
    fail "make install overwrote an existing config"

# A plugin of our own, built out of tree with the one documented command.
mkdir -p "$T/plugins"
cat > "$T/hello.c" <<'EOF'
#include <workqd/plugin.h>

static const struct wq_host *host;

static int
hello_init(const struct wq_host *h, const struct wq_node *conf, void **state)
{
	(void)conf;
	host = h;
	*state = NULL;
	return 0;
}

static enum wq_outcome
hello_run(void *state, struct wq_job *job)
{
	size_t len;
	const char *p = host->job_payload(job, &len);

	(void)state;
	host->log(WQ_LOG_INFO, "hello, %.*s (job %s)", (int)len, p,
	    host->job_id(job));
	return WQ_DONE;
}

WQ_PLUGIN(.name = "hello", .version = "1", .init = hello_init,
    .run = hello_run);
EOF
(cd "$T" && PKG_CONFIG_PATH="$STAGE/usr/lib/pkgconfig" &&
    export PKG_CONFIG_PATH &&
    cc -shared -fPIC $(pkg-config --cflags workqd) hello.c -o plugins/hello.so) \
    >"$T/cc.log" 2>&1 || fail "the out-of-tree plugin did not build: $(cat "$T/cc.log")"
chmod go-w "$T/plugins/hello.so"

redis_start
config "$T/w.yaml" -e "s|^plugin_dir: .*|plugin_dir: $T/plugins|" \
    -e 's|^  echo: {}|  hello: {}|' -e '/^  sleep: {}/d' \
    -e 's|    plugin: echo |    plugin: hello|'
"$STAGE/usr/bin/workqd" -t -c "$T/w.yaml" > "$T/check.out" 2>&1 ||
    fail "workqd -t refused the out-of-tree plugin: $(cat "$T/check.out")"
grep -qx "configuration OK" "$T/check.out" || fail "workqd -t said: $(cat "$T/check.out")"

WORKQD=$STAGE/usr/bin/workqd
workqd_start "$T/w.yaml"
workqd_wait_ready
rcli XADD workq:default '*' payload world >/dev/null
wait_until 10 grep -q 'hello: hello, world (job ' "$T/workqd.log" ||
    fail "the out-of-tree plugin did not run the job"
kill -TERM "$WQ_PID"
wait_exit "$WQ_PID"
[ "$STATUS" -eq 0 ] || fail "workqd exited with $STATUS"
say "ok: installed layout; out-of-tree plugin built with pkg-config ran a job"
