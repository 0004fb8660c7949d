#!/usr/bin/env python3
"""test_gdb.py — the gdb extension (tools/gdb/weft-gdb.py), live and on a core.

Runs tests/gdb_target.c under `gdb -batch`: once it stops (SIGTRAP, every
task parked), `info weft-tasks` and `weft-task 1 bt` run on the live
process (register swap and frame walk), then gdb writes a core file
itself (generate-core-file).  A second gdb opens the program with that
core and runs the same commands.  Checks: every task is listed with its
id, state or wait reason, name or entry function, spawn site and blocking
line; task 1's backtrace has level3, level2, level1 and three_deep, in
that order, with their lines.

  test_gdb.py --target EXE (--script weft-gdb.py | --autoload DIR) [--workdir D]

--autoload: the extension must load by itself (gdb's auto-load of
<lib>-gdb.py next to libweft.so), with DIR as the auto-load safe path.
Exits 77 (ctest: skipped) when gdb is not installed, and says so.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(msg, *outputs):
    sys.stderr.write("FAIL: %s\n" % msg)
    for o in outputs:
        sys.stderr.write("---- gdb output ----\n%s\n" % o)
    sys.exit(1)


def gdb_cmd(gdb, args, ex, timeout=300):
    cmd = [gdb, "-batch", "-nx", "-iex", "set pagination off", "-iex", "set confirm off",
           "-iex", "set debuginfod enabled off"]
    cmd += args
    for e in ex:
        cmd += ["-ex", e]
    # gdb's gcore stops copying a mapping at the first page it cannot read:
    # stack guards of their own mappings keep the task stacks in its core.
    env = dict(os.environ, WEFT_STACK_GUARD="mprotect")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       text=True, errors="replace", env=env)
    return r.stdout


def in_order(text, needles):
    at = 0
    for n in needles:
        k = text.find(n, at)
        if k < 0:
            return n
        at = k + len(n)
    return None


def check_tasks(out, src, lines, where):
    m = re.search(r"^(\d+) tasks?$", out, re.M)
    if not m or int(m.group(1)) < 5:
        fail("%s: info weft-tasks does not list the 5 tasks" % where, out)
    l3, _l2, _l1, _top, go = lines
    for want in [
        re.compile(r"^  1\s+chan recv\s+three_deep$", re.M),
        re.compile(r"^  2\s+select\s+\"selector-1\" \(selector\)$", re.M),
        re.compile(r"^  [345]\s+wg wait\s+waiter$", re.M),
    ]:
        if not want.search(out):
            fail("%s: info weft-tasks lacks /%s/" % (where, want.pattern), out)
    if "blocked at level3 at %s:%d" % (src, l3) not in out:
        fail("%s: task 1 is not shown blocked at level3 (%s:%d)" % (where, src, l3), out)
    if "spawned at %s:%d in main()" % (src, go) not in out:
        fail("%s: task 1's spawn site %s:%d is missing" % (where, src, go), out)


def check_walk(out, src, lines, where):
    l3, l2, l1, top, _go = lines
    missing = in_order(out, ["in level3 at %s:%d" % (src, l3), "in level2 at %s:%d" % (src, l2),
                             "in level1 at %s:%d" % (src, l1),
                             "in three_deep at %s:%d" % (src, top)])
    if missing:
        fail("%s: the walked backtrace lacks (in order) %r" % (where, missing), out)


def check_gdb_bt(out, src, lines, where):
    l3, l2, l1, top, _go = lines
    needles = []
    for fn, ln in (("level3", l3), ("level2", l2), ("level1", l1), ("three_deep", top)):
        needles.append(" %s (" % fn)
        needles.append("%s:%d" % (os.path.basename(src), ln))
    missing = in_order(out, needles)
    if missing:
        fail("%s: gdb's backtrace on the task's registers lacks (in order) %r" % (where, missing),
             out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--source", required=True, help="gdb_target.c as compiled")
    ap.add_argument("--script")
    ap.add_argument("--autoload")
    ap.add_argument("--workdir")
    a = ap.parse_args()
    gdb = shutil.which("gdb")
    if not gdb:
        print("SKIP: gdb is not installed (CI installs it: .ci/test.sh); the gdb extension "
              "was not tested")
        sys.exit(77)
    load = ["-x", a.script] if a.script else ["-iex", "set auto-load safe-path " + a.autoload]
    work = a.workdir or tempfile.mkdtemp(prefix="weft-gdb-")
    os.makedirs(work, exist_ok=True)
    core = os.path.join(work, "gdb_target.core")
    if os.path.exists(core):
        os.unlink(core)
    try:
        run(gdb, load, a, core)
    finally:
        if os.path.exists(core):
            os.unlink(core)  # hundreds of MB: never left behind
    print("gdb extension: live and core file OK")


def run(gdb, load, a, core):
    live = gdb_cmd(gdb, load + [a.target], [
        "run",
        "echo ==== tasks\\n", "info weft-tasks",
        "echo ==== bt\\n", "weft-task 1 bt",
        "echo ==== walk\\n", "weft-task 1 bt walk",
        "echo ==== after\\n", "bt 1",
        "generate-core-file " + core,
        "kill",
    ])
    m = re.search(r"^lines (\d+) (\d+) (\d+) (\d+) (\d+)$", live, re.M)
    if not m:
        fail("the target did not get to its stop", live)
    lines = [int(x) for x in m.groups()]
    if "==== tasks" not in live or "Undefined command" in live:
        fail("the extension is not loaded", live)
    sec = dict(re.findall(r"==== (\w+)\n(.*?)(?=\n==== |\Z)", live, re.S))
    check_tasks(sec.get("tasks", ""), a.source, lines, "live")
    check_gdb_bt(sec.get("bt", ""), a.source, lines, "live")
    check_walk(sec.get("walk", ""), a.source, lines, "live")
    # The thread's own registers are back: its frame 0 is where it stopped.
    if not re.search(r"#0 .*(raise|kill|pthread_kill)", sec.get("after", "")):
        fail("the selected thread's registers were not restored after the task's bt", live)
    if not os.path.exists(core):
        fail("gdb wrote no core file", live)

    dead = gdb_cmd(gdb, load + [a.target, core], [
        "echo ==== tasks\\n", "info weft-tasks",
        "echo ==== bt\\n", "weft-task 1 bt",
        "echo ==== one\\n", "weft-task 2",
    ])
    sec = dict(re.findall(r"==== (\w+)\n(.*?)(?=\n==== |\Z)", dead, re.S))
    check_tasks(sec.get("tasks", ""), a.source, lines, "core")
    check_walk(sec.get("bt", ""), a.source, lines, "core")
    if 'task 2 "selector-1" (selector) [select]' not in sec.get("one", ""):
        fail("core: weft-task 2 does not describe the named selector", dead)


if __name__ == "__main__":
    main()
