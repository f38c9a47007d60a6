#!/usr/bin/env python3
"""push.py: the fault tests' producer.

Pushes jobs numbered FIRST.. with XADD, pipelined, each entry carrying the
fields `id <n>`, `payload <text>` and any --field given, until COUNT of them
were confirmed by Redis (a number whose outcome is unknown is replaced by a
fresh one after FIRST + COUNT - 1).  Writes the numbers Redis confirmed to
--ok, one a line, and the numbers whose outcome is unknown (the connection dropped after
they were sent, before the reply) to --maybe: the checker allows those to
run, but does not require it.  An error reply (OOM, LOADING) means the entry
was not added: the same number is pushed again after a pause, the way a
producer that gets an error retries.  A lost connection is retried until
--give-up seconds pass without one push getting through.

Payloads: --payload TEXT for every job, then each --every K:TEXT gives every
K-th job TEXT instead, where TEXT "ms=A-B" becomes "ms=<random in A..B>"
(a fixed seed, so runs repeat); --abort N1,N2,... makes those jobs "abort".

    push.py --redis unix:/tmp/r.sock --key workq:default --count 100000 \\
        --every 100:ms=2000-5000 --ok ok.ids
"""

import argparse
import random
import sys
import time

import resp


def payload_of(n, args, rng):
    if n in args.abort_set:
        return "abort"
    text = args.payload
    for k, t in args.every:
        if n % k == 0:
            text = t
    if text.startswith("ms=") and "-" in text:
        a, b = text[3:].split("-")
        text = "ms=%d" % rng.randint(int(a), int(b))
    return text


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True)
    p.add_argument("--key", default="workq:default")
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--rate", type=float, default=0, help="jobs/s, 0: flat out")
    p.add_argument("--payload", default="x")
    p.add_argument("--every", action="append", default=[])
    p.add_argument("--abort", default="")
    p.add_argument("--field", action="append", default=[], nargs=2)
    p.add_argument("--ok", required=True)
    p.add_argument("--maybe")
    p.add_argument("--give-up", type=float, default=120)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    args.every = [(int(e.split(":", 1)[0]), e.split(":", 1)[1])
                  for e in args.every]
    args.abort_set = {int(x) for x in args.abort.split(",") if x}
    rng = random.Random(args.seed)

    extra = []
    for name, value in args.field:
        extra += [name, value]
    todo = list(range(args.first, args.first + args.count))
    fresh = args.first + args.count
    okf = open(args.ok, "a", buffering=1)
    maybef = open(args.maybe or "/dev/null", "a", buffering=1)
    conn = None
    errors = {}
    reconnects = 0
    last_progress = time.monotonic()
    start = time.monotonic()
    done = 0
    while todo:
        if time.monotonic() - last_progress > args.give_up:
            sys.exit("push: no push got through for %.0f s; giving up"
                     % args.give_up)
        if conn is None:
            try:
                conn = resp.Conn(args.redis, timeout=5)
            except OSError:
                time.sleep(0.1)
                continue
        batch = todo[:args.batch]
        if args.rate > 0:
            ahead = done / args.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
            batch = todo[:max(1, min(args.batch, int(args.rate / 20)))]
        data = b"".join(conn.encode("XADD", args.key, "*", "id", n,
                                    "payload", payload_of(n, args, rng),
                                    *extra)
                        for n in batch)
        got, failed, maybe = [], [], []
        try:
            conn.send(data)
            for n in batch:
                r = conn.read()
                if isinstance(r, resp.Error):
                    kind = str(r).split(" ", 1)[0]
                    errors[kind] = errors.get(kind, 0) + 1
                    failed.append(n)
                else:
                    got.append(n)
        except OSError:
            # Sent, reply lost: in Redis or not, nobody can tell.
            maybe = batch[len(got) + len(failed):]
            conn.close()
            conn = None
            reconnects += 1
        todo = failed + todo[len(batch):]
        if maybe:
            # Fresh numbers take their place: COUNT confirmed in the end.
            maybef.write("".join("%d\n" % n for n in maybe))
            todo += range(fresh, fresh + len(maybe))
            fresh += len(maybe)
        if got:
            okf.write("".join("%d\n" % n for n in got))
            last_progress = time.monotonic()
            done += len(got)
        if failed:
            time.sleep(0.05)
    print("push: %d confirmed in %.1f s; rejected %s; reconnects %d" %
          (done, time.monotonic() - start,
           ", ".join("%s %d" % kv for kv in sorted(errors.items())) or "0",
           reconnects))


if __name__ == "__main__":
    main()
