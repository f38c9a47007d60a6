#!/usr/bin/env python3
"""check.py: the fault tests' total-queue checker (Jepsen's idea).

    P  the job numbers Redis confirmed to the producer (--ok files)
    M  the numbers whose push outcome is unknown (--maybe files)
    E  the executions: the multiset of numbers in the record files
    D  the numbers expected in the dead letters (--dead), with --dead-reason

    lost        = P - D - set(E)          must be 0
    duplicates  = |E| - |set(E)|          reported (and bounded by --max-dups)
    unexpected  = set(E) - P - M          must be 0
    dead-letter = exactly D, each with dead.reason = --dead-reason
    Redis       = the group's pending list empty and the stream empty

With --wait SECS it polls (every 200 ms) until nothing is lost and Redis is
empty, or until the deadline, then judges once.  With --events FILE (lines
"<unix ms> fault|heal <what>", written by the test) it reports, for each
heal, the recovery time (the heal to the first execution that started
after it) and the executions in the 2 s after that, and counts a stall when
no job started within --stall seconds of a heal while jobs were left.

Exit status 0 when every rule holds, 1 otherwise; the verdict is one line
starting "check:".  --selftest proves the checker can fail.
"""

import argparse
import os
import sys
import time

import resp


def read_ids(paths):
    out = []
    for p in paths:
        if not os.path.exists(p):
            continue
        with open(p) as f:
            out += [int(line) for line in f if line.strip()]
    return out


class Execs(list):
    """Executions, and how many record lines were not one (torn)."""
    torn = 0


def read_execs(paths):
    execs = Execs()
    for p in paths:
        if not os.path.exists(p):
            continue
        with open(p) as f:
            for line in f:
                w = line.split()
                if len(w) != 4 or not all(x.isdigit() for x in w):
                    # One write per line: a torn line cannot happen, and
                    # one could hide an execution.  Counted, and a failure.
                    execs.torn += 1
                    continue
                execs.append((int(w[0]), int(w[1]), int(w[2]), int(w[3])))
    return execs


def redis_state(address, key, group, dead_key):
    c = resp.Conn(address)
    try:
        try:
            pel = c.command("XPENDING", key, group)[0]
        except resp.Error:
            pel = 0             # no group: nothing pending
        xlen = c.command("XLEN", key)
        dead = []
        for _, fields in c.command("XRANGE", dead_key, "-", "+"):
            kv = dict(zip(fields[::2], fields[1::2]))
            dead.append((int(kv.get("id", "-1")), kv.get("dead.reason")))
        return pel, xlen, dead
    finally:
        c.close()


def judge(a, execs, pushed, maybe, expect_dead, state):
    pel, xlen, dead = state
    seen = {e[0] for e in execs}
    lost = pushed - expect_dead - seen
    unexpected = seen - pushed - maybe
    dead_ids = [d for d, _ in dead]
    bad_dead = [d for d in dead if d[0] not in expect_dead or
                d[1] != a.dead_reason]
    missing_dead = expect_dead - set(dead_ids)
    ran_dead = expect_dead & seen
    return {
        "pushed": len(pushed), "maybe": len(maybe), "executed": len(execs),
        "distinct": len(seen), "lost": len(lost),
        "duplicates": len(execs) - len(seen), "unexpected": len(unexpected),
        "pel": pel, "xlen": xlen, "dead": len(dead),
        "_lost": sorted(lost)[:10], "_unexpected": sorted(unexpected)[:10],
        "_bad_dead": bad_dead[:10], "_missing_dead": sorted(missing_dead)[:10],
        "_ran_dead": sorted(ran_dead)[:10],
        "_torn": getattr(execs, "torn", 0),
    }


def problems(a, r):
    out = []
    if r["lost"]:
        out.append("%d lost (e.g. %s)" % (r["lost"], r["_lost"]))
    if r["unexpected"]:
        out.append("%d unexpected (e.g. %s)" % (r["unexpected"],
                                               r["_unexpected"]))
    if r["_torn"]:
        out.append("%d malformed record lines" % r["_torn"])
    if r["pel"]:
        out.append("%d entries still pending" % r["pel"])
    if r["xlen"]:
        out.append("%d entries left in the stream" % r["xlen"])
    if r["_bad_dead"]:
        out.append("unexpected dead letters %s" % r["_bad_dead"])
    if r["_missing_dead"]:
        out.append("not dead-lettered: %s" % r["_missing_dead"])
    if r["_ran_dead"]:
        out.append("poison jobs recorded as run: %s" % r["_ran_dead"])
    if a.max_dups is not None and r["duplicates"] > a.max_dups:
        out.append("%d duplicates > bound %d" % (r["duplicates"], a.max_dups))
    return out


def recovery(a, execs, pushed):
    """[(what, recovery ms or None, executions in the 2 s after)], stalls."""
    if not a.events or not os.path.exists(a.events):
        return [], 0
    heals = []
    with open(a.events) as f:
        for line in f:
            w = line.split(None, 2)
            if len(w) >= 2 and w[1] == "heal":
                heals.append((int(w[0]), w[2].strip() if len(w) > 2 else ""))
    starts = sorted(e[2] for e in execs)
    ends = sorted(e[3] for e in execs)
    last_end = ends[-1] if ends else 0
    out, stalls = [], 0
    import bisect
    for t, what in heals:
        i = bisect.bisect_left(starts, t)
        if i == len(starts):
            # Nothing started after the heal: fine only if all was done.
            out.append((what, None, 0))
            if last_end > t:
                stalls += 1
            continue
        first = starts[i]
        rec = first - t
        n = bisect.bisect_left(starts, first + 2000) - i
        out.append((what, rec, n))
        if rec > a.stall * 1000:
            stalls += 1
    return out, stalls


def run(a):
    pushed = set(read_ids(a.ok))
    maybe = set(read_ids(a.maybe)) - pushed
    expect_dead = set(int(x) for x in a.dead.split(",") if x)
    deadline = time.monotonic() + a.wait
    key = "%s:%s" % (a.prefix, a.queue)
    dead_key = "{%s:%s}:dead" % (a.prefix, a.queue)
    while True:
        execs = read_execs(a.record)
        state = redis_state(a.redis, key, a.group, dead_key)
        r = judge(a, execs, pushed, maybe, expect_dead, state)
        settled = (r["lost"] == 0 and r["pel"] == 0 and r["xlen"] == 0 and
                   not r["_missing_dead"])
        if settled or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    rec, stalls = recovery(a, execs, pushed)
    bad = problems(a, r)
    if stalls:
        bad.append("%d stall(s): no job started within %d s of a heal"
                   % (stalls, a.stall))
    for what, ms, n in rec:
        print("check: %s: recovery %s, %d jobs started in the next 2 s" %
              (what, "n/a (nothing left)" if ms is None else "%d ms" % ms, n))
    faults = max(a.faults, 1)
    summary = " ".join("%s=%s" % (k, v) for k, v in r.items()
                       if not k.startswith("_"))
    print("check: %s%s dups/fault=%.1f %s" % (
        a.label + ": " if a.label else "", summary,
        r["duplicates"] / faults, "FAIL: " + "; ".join(bad) if bad else "OK"))
    return 1 if bad else 0


def selftest(a):
    """The checker on doctored data must fail, and on the truth pass."""
    import tempfile
    d = tempfile.mkdtemp()
    ok = os.path.join(d, "ok")
    rec = os.path.join(d, "rec")
    with open(ok, "w") as f:
        f.write("".join("%d\n" % n for n in range(1, 101)))
    lines = ["%d 1 %d %d\n" % (n, 1000 + n, 1001 + n) for n in range(1, 101)]
    cases = [
        ("truth", lines, 0),
        ("one loss", lines[:41] + lines[42:], 1),
        ("one unexpected", lines + ["999 1 5 6\n"], 1),
        ("one duplicate over bound 0", lines + [lines[7]], 1),
        ("one torn record line", lines + ["8 1 1008\n"], 1),
    ]
    fails = 0
    for name, ls, want in cases:
        with open(rec, "w") as f:
            f.write("".join(ls))
        r = judge(a, read_execs([rec]), set(read_ids([ok])), set(), set(),
                  (0, 0, []))
        got = 1 if problems(a, r) else 0
        print("check selftest: %s: %s" % (name, "fails" if got else
                                          "passes"))
        if got != want:
            fails += 1
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--redis")
    p.add_argument("--prefix", default="workq")
    p.add_argument("--queue", default="default")
    p.add_argument("--group", default="workqd")
    p.add_argument("--ok", action="append", default=[])
    p.add_argument("--maybe", action="append", default=[])
    p.add_argument("--record", action="append", default=[])
    p.add_argument("--dead", default="")
    p.add_argument("--dead-reason", default="poison")
    p.add_argument("--max-dups", type=int)
    p.add_argument("--faults", type=int, default=1)
    p.add_argument("--events")
    p.add_argument("--stall", type=int, default=20)
    p.add_argument("--wait", type=float, default=0)
    p.add_argument("--label", default="")
    p.add_argument("--selftest", action="store_true")
    a = p.parse_args()
    if a.selftest:
        a.max_dups = 0
        sys.exit(selftest(a))
    if not a.redis:
        p.error("--redis is required")
    sys.exit(run(a))


if __name__ == "__main__":
    main()
