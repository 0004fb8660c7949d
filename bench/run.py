#!/usr/bin/env python3
"""Run weft's benchmark suite against its Go twins and report weft/Go ratios.

Usage:
    bench/run.py BUILD_DIR [--only a,b] [--runs N] [--workers 1,2] [--quick]
                           [--echo-conns 1000,10000] [--echo-duration S]

BUILD_DIR is a CMake build directory of weft (the benchmarks are
BUILD_DIR/bench/bench_<name>); this script builds no C code.  The Go twins
(bench/go) are compiled with `go build` into BUILD_DIR/bench/weft-bench-go
unless that binary is up to date or --go-bin names one.  Without `go` the
weft side runs alone.

Every (benchmark, workers) pair runs weft and Go alternately, --runs times
each (the order flips every run, so machine drift hits both sides), and the
table shows the median and min-max of each side and the ratio of medians
weft/Go against the benchmark's target.  All figures and the machine go to
bench/results/latest.json and a bar chart of the ratios to
bench/results/latest.svg.  Progress goes to stderr, the table to stdout.

The 'echo' group (bench/echo.py; `--only echo` runs it alone) is a server
benchmark of its own shape: weft's echo server and Go's, each loaded in
turn by the same Go client; it reports requests/s (higher is better) and
p50/p99 latency (lower is better) in a table of its own, after the others,
and in latest.json under "echo" (not in the chart).

Exit status: 0 when every run produced a number, 1 when some failed (timed
out, crashed, printed no RESULT line), 2 on bad usage.  Speed is never
asserted: a missed target is reported, not an error.

Python 3 standard library only.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import echo  # noqa: E402  (bench/echo.py: the echo server group)

ECHO = "echo"  # the name of that group for --only


class Bench:
    def __init__(self, name, n, quick_n, target, what, max_runs=None):
        self.name, self.n, self.quick_n, self.target, self.what = name, n, quick_n, target, what
        self.max_runs = max_runs  # cap on --runs for slow benchmarks with a steady figure


# name, default iterations, --quick iterations, target ratio weft/Go (None:
# no target), one-line description[, cap on runs].  Keep in step with
# bench/README.md.  memtask's figure (bytes per task) varies by well under 1%
# between runs while one run of 1M tasks takes seconds on each side, so it is
# capped at 3 runs per side.
BENCHES = [
    Bench("pingpong", 500_000, 5_000, 0.30, "round trip over 2 unbuffered channels"),
    Bench("spsc", 5_000_000, 50_000, 0.40, "message, 1 producer 1 consumer, cap 1024"),
    Bench("mpmc", 2_000_000, 20_000, 0.50, "message, 4 producers x 4 consumers, cap 128"),
    Bench("mpmc_unbuf", 2_000_000, 20_000, 0.80, "message, 4 producers x 4 consumers, unbuffered"),
    Bench("select2", 2_000_000, 20_000, 0.30, "select over 2 ready channels (+refill)"),
    Bench("select4", 2_000_000, 20_000, 0.30, "select over 4 ready channels (+refill)"),
    Bench("select_default", 5_000_000, 50_000, 0.35, "select with default on 2 empty channels"),
    Bench("select_block2", 1_000_000, 10_000, 0.80, "blocking select over 2 producers' unbuffered channels"),
    Bench("select_block4", 1_000_000, 10_000, 0.80, "blocking select over 4 producers' unbuffered channels"),
    Bench("ring", 1_000_000, 20_000, 0.20, "hop of a token round a ring of 1000 tasks"),
    Bench("skynet", 1_000_000, 10_000, 0.30, "1M-task 10-ary tree summing ordinals"),
    Bench("yield", 1_000_000, 10_000, 0.25, "yield, two tasks"),
    Bench("spawn", 1_000_000, 10_000, 0.20, "spawn + exit + WaitGroup join"),
    Bench("memtask", 1_000_000, 10_000, 1.60, "peak RSS per parked task", max_runs=3),
    Bench("cancel_fanout", 100_000, 1_000, 0.50, "cancel 100k tasks selecting on ctx done"),
    Bench("mutex", 30_000_000, 300_000, None, "uncontended lock/unlock"),
    Bench("mutex_contended", 10_000_000, 100_000, None, "lock/unlock, 4 tasks on one mutex"),
    Bench("wg", 20_000_000, 200_000, None, "WaitGroup add/done/wait cycle"),
]
BY_NAME = {b.name: b for b in BENCHES}

RESULT_RE = re.compile(r"^RESULT\s+(.*)$", re.M)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# running one benchmark process
# --------------------------------------------------------------------------
def run_one(cmd, env, timeout):
    """Run cmd; return (result dict or None, error string or None, seconds)."""
    t0 = time.monotonic()
    try:
        # own process group, so that a timeout kills everything it started
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, errors="replace", start_new_session=True)
    except OSError as e:
        return None, "cannot run %s: %s" % (cmd[0], e), time.monotonic() - t0
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.communicate()
        return None, "timed out after %gs (killed)" % timeout, time.monotonic() - t0
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        raise
    dt = time.monotonic() - t0
    m = RESULT_RE.search(stdout)
    tail = (stderr.strip().splitlines() or [""])[-3:]
    if p.returncode != 0:
        sig = ""
        if p.returncode < 0:
            sig = " (signal %d)" % -p.returncode
        return None, "exit status %d%s: %s" % (p.returncode, sig, " | ".join(tail)), dt
    if not m:
        return None, "no RESULT line in output: %s" % " | ".join(tail), dt
    fields = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
    try:
        fields["value"] = float(fields["value"])
        fields["ops"] = int(fields.get("ops", 0))
    except (KeyError, ValueError):
        return None, "bad RESULT line: %s" % m.group(0), dt
    if not math.isfinite(fields["value"]):
        return None, "non-finite value: %s" % m.group(0), dt
    return fields, None, dt


def summarize(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --------------------------------------------------------------------------
# the Go twins
# --------------------------------------------------------------------------
def go_env(build_dir):
    env = dict(os.environ)
    if not env.get("GOCACHE") and not env.get("HOME") and not env.get("XDG_CACHE_HOME"):
        env["GOCACHE"] = os.path.join(build_dir, "bench", "go-cache")
    env.setdefault("GOPROXY", "off")      # the module has no dependencies
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def prepare_go(args):
    """Return (path of the Go twin binary or None, go version or None, note)."""
    go = shutil.which("go")
    version = None
    if go:
        try:
            version = subprocess.run([go, "version"], stdout=subprocess.PIPE, text=True,
                                     timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            version = None
    if args.go_bin:
        return args.go_bin, version, "using %s" % args.go_bin
    if not go:
        return None, None, "go not found on PATH: running weft alone (no ratios)"
    out = os.path.join(args.build_dir, "bench", "weft-bench-go")
    src = os.path.join(HERE, "go")
    log("bench: building the Go twins: go build -o %s (in bench/go)" % out)
    try:
        p = subprocess.run([go, "build", "-o", out, "."], cwd=src, env=go_env(args.build_dir),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        return None, version, "go build failed (%s): running weft alone" % e
    if p.returncode != 0:
        return None, version, "go build failed: %s; running weft alone" % p.stdout.strip()
    return out, version, "built %s" % out


# --------------------------------------------------------------------------
# machine description
# --------------------------------------------------------------------------
def read_cmake_cache(build_dir):
    cache = {}
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            for line in f:
                m = re.match(r"^([A-Za-z0-9_]+):[A-Z]+=(.*)$", line.rstrip("\n"))
                if m:
                    cache[m.group(1)] = m.group(2)
    except OSError:
        pass
    return cache


def first_line(cmd, **kw):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=30, **kw)
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def machine_info(build_dir, go_version):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    cache = read_cmake_cache(build_dir)
    cc = cache.get("CMAKE_C_COMPILER")
    commit = first_line(["git", "-C", REPO, "rev-parse", "HEAD"])
    if commit:
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if dirty.returncode == 0 and dirty.stdout.strip():
            commit += "-dirty"
    return {
        "cpu": cpu or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "arch": platform.machine(),
        "compiler": (first_line([cc, "--version"]) if cc else None) or cc or "unknown",
        "build_type": cache.get("CMAKE_BUILD_TYPE") or "unknown",
        "go": go_version or "not available",
        "python": platform.python_version(),
        "weft_commit": commit or "unknown (no git commit)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------
# output: table, JSON, SVG
# --------------------------------------------------------------------------
fnum = echo.fnum  # one number format for both tables (bench/echo.py)


def fcell(s):
    if s is None:
        return "FAILED"
    return "%s [%s–%s]" % (fnum(s["median"]), fnum(s["min"]), fnum(s["max"]))


def verdict(row):
    if row["weft"]["summary"] is None:
        return "weft failed"
    if row["go"]["summary"] is None:
        return "go failed" if row["go"]["ran"] else ""
    if row["target"] is None:
        return ""
    return "ok" if row["ratio"] <= row["target"] else "MISS"


def print_table(rows, out=sys.stdout):
    head = ["benchmark", "workers", "unit", "weft median [min–max]", "go median [min–max]",
            "weft/go", "target", ""]
    lines = []
    for r in rows:
        lines.append([r["name"], str(r["workers"]), r["unit"] or "", fcell(r["weft"]["summary"]),
                      fcell(r["go"]["summary"]) if r["go"]["ran"] else "n/a",
                      ("%.3f" % r["ratio"]) if r["ratio"] is not None else "-",
                      ("≤%.2f" % r["target"]) if r["target"] is not None else "-",
                      verdict(r)])
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    right = {1, 5, 6}

    def fmt(cols):
        return "  ".join((c.rjust(w) if i in right else c.ljust(w))
                         for i, (c, w) in enumerate(zip(cols, widths))).rstrip()

    print(fmt(head), file=out)
    print("  ".join("-" * w for w in widths).rstrip(), file=out)
    for l in lines:
        print(fmt(l), file=out)


def esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


PALETTE = ["#3b6fb6", "#e08a2c", "#4a9b5c", "#9a4fb0", "#c4453c", "#6b6b6b"]


def write_svg(path, rows, machine, workers_list):
    """Horizontal bars of weft/Go (median ratio) per benchmark, one bar per
    worker count, on a log axis; a solid line at 1.0 and a dashed red mark
    at each benchmark's target.  Hand-written SVG: no plotting dependency."""
    names = []
    for r in rows:
        if r["name"] not in names:
            names.append(r["name"])
    ratios = [r["ratio"] for r in rows if r["ratio"]]
    targets = [BY_NAME[n].target for n in names if BY_NAME[n].target]
    lo = min([0.1] + [x / 1.5 for x in ratios + targets])
    hi = max([2.0] + [x * 1.4 for x in ratios])
    llo, lhi = math.log10(lo), math.log10(hi)
    left, plot_w, right_pad = 150, 560, 70
    bar_h, bar_gap, group_gap = 14, 2, 12
    top = 80
    nw = len(workers_list)
    group_h = nw * (bar_h + bar_gap) + group_gap
    height = top + len(names) * group_h + 60
    width = left + plot_w + right_pad

    def x_of(v):
        v = min(max(v, lo), hi)
        return left + (math.log10(v) - llo) / (lhi - llo) * plot_w

    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">' %
             (width, height, width, height))
    o.append('<rect width="100%" height="100%" fill="white"/>')
    o.append('<text x="%d" y="20" font-size="14" font-weight="bold">weft / Go time ratio '
             '(median; lower is better)</text>' % left)
    sub = "%s · %s cores · %s · %s · %s" % (machine["cpu"], machine["cores"], machine["kernel"],
                                            machine["weft_commit"][:12], machine["date"])
    o.append('<text x="%d" y="36" fill="#555">%s</text>' % (left, esc(sub)))
    # legend
    lx = left
    for i, w in enumerate(workers_list):
        o.append('<rect x="%d" y="46" width="12" height="10" fill="%s"/>' %
                 (lx, PALETTE[i % len(PALETTE)]))
        o.append('<text x="%d" y="55">%d worker%s</text>' % (lx + 16, w, "" if w == 1 else "s"))
        lx += 90
    o.append('<line x1="%d" y1="51" x2="%d" y2="51" stroke="#c4453c" stroke-width="2" '
             'stroke-dasharray="4,2"/>' % (lx, lx + 16))
    o.append('<text x="%d" y="55">target</text>' % (lx + 20))
    plot_bottom = top + len(names) * group_h
    # grid: 1-2-5 ticks
    ticks = []
    for e in range(int(math.floor(llo)) - 1, int(math.ceil(lhi)) + 1):
        for m in (1, 2, 5):
            t = m * 10 ** e
            if lo <= t <= hi:
                ticks.append(t)
    for t in ticks:
        x = x_of(t)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e4e4e4"/>' %
                 (x, top - 4, x, plot_bottom))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%g</text>' %
                 (x, plot_bottom + 14, t))
    o.append('<text x="%d" y="%d" text-anchor="middle" fill="#555">weft/Go (log scale)</text>' %
             (left + plot_w // 2, plot_bottom + 30))
    by_key = {(r["name"], r["workers"]): r for r in rows}
    labels = []  # drawn last, over the target marks
    for gi, name in enumerate(names):
        gy = top + gi * group_h
        gh = nw * (bar_h + bar_gap)
        o.append('<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>' %
                 (left - 8, gy + gh / 2, esc(name)))
        for wi, w in enumerate(workers_list):
            r = by_key.get((name, w))
            y = gy + wi * (bar_h + bar_gap)
            if r is None:
                continue
            color = PALETTE[wi % len(PALETTE)]
            if r["ratio"] is None:
                why = "weft failed" if r["weft"]["summary"] is None else (
                    "go failed" if r["go"]["ran"] else "no Go figure")
                o.append('<text x="%d" y="%d" fill="#c4453c">%s (%d w)</text>' %
                         (left + 4, y + bar_h - 3, esc(why), w))
                continue
            x1 = x_of(r["ratio"])
            o.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s">'
                     '<title>%s, %d workers: weft/Go = %.3f</title></rect>' %
                     (left, y, max(x1 - left, 1), bar_h, color, esc(name), w, r["ratio"]))
            labels.append('<text x="%.1f" y="%d" fill="#333" stroke="white" stroke-width="3" '
                          'paint-order="stroke">%.2f</text>' %
                     (x1 + 4, y + bar_h - 3, r["ratio"]))
        tgt = BY_NAME[name].target
        if tgt:
            xt = x_of(tgt)
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c4453c" '
                     'stroke-width="2" stroke-dasharray="4,2"><title>target %.2f</title></line>' %
                     (xt, gy - 3, xt, gy + gh + 1, tgt))
    x1 = x_of(1.0)
    o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222" stroke-width="1.5"/>' %
             (x1, top - 8, x1, plot_bottom))
    o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#222">1.0 = Go</text>' %
             (x1, top - 10))
    o.extend(labels)
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run weft's benchmarks and their Go twins alternately; report weft/Go.",
        epilog="benchmarks: " + ", ".join(b.name for b in BENCHES))
    ap.add_argument("build_dir", nargs="?", help="CMake build directory of weft")
    ap.add_argument("--build-dir", dest="build_dir_opt", help="same as the positional argument")
    ap.add_argument("--only", help="comma-separated subset of benchmarks")
    ap.add_argument("--runs", type=int, help="runs per side (default 5; 1 with --quick)")
    ap.add_argument("--workers", default="1,2", help="worker counts to sweep (default 1,2)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny iteration counts, 1 run: a smoke test that every benchmark runs")
    ap.add_argument("--iters", default="",
                    help="override iteration counts: name=N[,name=N...]")
    ap.add_argument("--timeout", type=float,
                    help="seconds per benchmark process (default 120; 30 with --quick)")
    ap.add_argument("--no-go", action="store_true", help="run the weft side only")
    ap.add_argument("--go-bin", help="a prebuilt Go twin binary (skips go build)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"),
                    help="where latest.json / latest.svg go (default bench/results)")
    ap.add_argument("--echo-conns",
                    help="echo: connection counts (default 1000,10000; 100 with --quick)")
    ap.add_argument("--echo-duration", type=float,
                    help="echo: measured seconds per run (default 5; 0.5 with --quick)")
    ap.add_argument("--echo-warmup", type=float,
                    help="echo: unmeasured warm-up seconds per run (default 1; 0.1 with --quick)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    a = ap.parse_args(argv)
    if a.list:
        for b in BENCHES:
            print("%-16s %-6s %s" % (b.name, ("≤%.2f" % b.target) if b.target else "-", b.what))
        print("%-16s %-6s %s" % (ECHO, "≥1/≤1", "echo server, 1k and 10k connections: req/s "
                                 "weft/Go (higher is better), p99 weft/Go (lower is better)"))
        sys.exit(0)
    a.build_dir = a.build_dir_opt or a.build_dir
    if not a.build_dir:
        ap.error("the build directory is required (e.g. bench/run.py build)")
    a.build_dir = os.path.abspath(a.build_dir)
    if a.runs is None:
        a.runs = 1 if a.quick else 5
    if a.runs < 1:
        ap.error("--runs must be >= 1")
    if a.timeout is None:
        a.timeout = 30.0 if a.quick else 120.0
    try:
        a.workers_list = [int(x) for x in a.workers.split(",") if x.strip()]
    except ValueError:
        ap.error("--workers wants a comma-separated list of integers")
    if not a.workers_list or min(a.workers_list) < 1:
        ap.error("--workers wants positive integers")
    if a.only:
        names = [x.strip() for x in a.only.split(",") if x.strip()]
        bad = [x for x in names if x not in BY_NAME and x != ECHO]
        if bad:
            ap.error("unknown benchmark(s): %s (have: %s, %s)" %
                     (", ".join(bad), ", ".join(b.name for b in BENCHES), ECHO))
        a.benches = [BY_NAME[x] for x in names if x != ECHO]
        a.echo = ECHO in names
    else:
        a.benches = list(BENCHES)
        a.echo = True
    a.echo_conns_list = None
    if a.echo_conns:
        try:
            a.echo_conns_list = [int(x) for x in a.echo_conns.split(",") if x.strip()]
        except ValueError:
            ap.error("--echo-conns wants a comma-separated list of integers")
        if not a.echo_conns_list or min(a.echo_conns_list) < 1:
            ap.error("--echo-conns wants positive integers")
    a.iter_override = {}
    for kv in filter(None, (x.strip() for x in a.iters.split(","))):
        k, _, v = kv.partition("=")
        if k not in BY_NAME or not v.isdigit() or int(v) < 1:
            ap.error("bad --iters entry %r" % kv)
        a.iter_override[k] = int(v)
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_dir = os.path.join(args.build_dir, "bench")
    if not os.path.isdir(bench_dir):
        log("bench: warning: %s does not exist; build weft first "
            "(cmake -S . -B build && cmake --build build)" % bench_dir)
    go_bin, go_version, note = (None, None, "--no-go: running weft alone") if args.no_go \
        else prepare_go(args)
    log("bench: " + note)
    machine = machine_info(args.build_dir, go_version)

    pairs = [(b, w) for b in args.benches for w in args.workers_list]

    def runs_of(b):
        return min(args.runs, b.max_runs) if b.max_runs else args.runs

    total = sum(runs_of(b) for b, _ in pairs) * (2 if go_bin else 1)
    done = 0
    t_start = time.monotonic()
    rows = []
    any_failed = False
    for b, w in pairs:
        n = args.iter_override.get(b.name, b.quick_n if args.quick else b.n)
        weft_cmd = [os.path.join(bench_dir, "bench_" + b.name), str(n), str(w)]
        env_weft = dict(os.environ, WEFT_PROCS=str(w))
        sides = {"weft": {"cmd": weft_cmd, "env": env_weft, "values": [], "errors": [],
                          "seconds": [], "ran": True}}
        if go_bin:
            go_cmd = [go_bin, "-bench", b.name, "-n", str(n), "-workers", str(w)]
            sides["go"] = {"cmd": go_cmd, "env": dict(os.environ, GOMAXPROCS=str(w)),
                           "values": [], "errors": [], "seconds": [], "ran": True}
        else:
            sides["go"] = {"cmd": None, "values": [], "errors": [], "seconds": [], "ran": False}
        unit, ops = None, None
        runs = runs_of(b)
        for run in range(runs):
            order = ["weft", "go"] if run % 2 == 0 else ["go", "weft"]
            for side in order:
                s = sides[side]
                if not s["ran"]:
                    continue
                done += 1
                if s["errors"]:
                    # one failure (a hang, a crash) is enough: do not pay for it again
                    log("[%d/%d] %s w=%d %s run %d/%d: skipped after failure" %
                        (done, total, b.name, w, side, run + 1, runs))
                    continue
                if side == "weft" and not os.access(s["cmd"][0], os.X_OK):
                    res, err, dt = None, "not built: %s" % s["cmd"][0], 0.0
                else:
                    res, err, dt = run_one(s["cmd"], s["env"], args.timeout)
                s["seconds"].append(round(dt, 3))
                if err:
                    s["errors"].append(err)
                    any_failed = True
                    log("[%d/%d] %s w=%d %s run %d/%d: FAILED: %s" %
                        (done, total, b.name, w, side, run + 1, runs, err))
                    continue
                s["values"].append(res["value"])
                unit = unit or res.get("unit")
                ops = ops or res.get("ops")
                log("[%d/%d] %s w=%d %s run %d/%d: %s %s (%.1fs)" %
                    (done, total, b.name, w, side, run + 1, runs, fnum(res["value"]),
                     res.get("unit", ""), dt))
        for s in sides.values():
            s["summary"] = summarize(s["values"]) if not s["errors"] else None
        ratio = None
        if sides["weft"]["summary"] and sides["go"]["summary"] and \
                sides["go"]["summary"]["median"] > 0:
            ratio = sides["weft"]["summary"]["median"] / sides["go"]["summary"]["median"]
        rows.append({
            "name": b.name, "workers": w, "iterations": n, "runs": runs, "unit": unit, "ops": ops,
            "target": b.target, "ratio": ratio,
            "meets_target": (ratio <= b.target) if (ratio is not None and b.target) else None,
            "weft": {k: sides["weft"][k] for k in
                     ("cmd", "values", "errors", "seconds", "summary", "ran")},
            "go": {k: sides["go"][k] for k in
                   ("cmd", "values", "errors", "seconds", "summary", "ran")},
        })

    echo_rows, echo_notes = [], []
    if args.echo:
        if args.no_go:
            echo_notes.append("echo: skipped with --no-go (its load client is the Go binary)")
        else:
            echo_rows, echo_notes, echo_failed = echo.run(
                args.build_dir, go_bin, args.workers_list, args.runs, quick=args.quick,
                conns=args.echo_conns_list, duration=args.echo_duration,
                warmup=args.echo_warmup)
            any_failed = any_failed or echo_failed

    elapsed = time.monotonic() - t_start
    print()
    print("weft benchmarks vs Go — %d run%s per side%s, %s" %
          (args.runs, "" if args.runs == 1 else "s", " (--quick)" if args.quick else "",
           machine["date"]))
    print("machine: %s, %s cores (%s usable), %s; compiler: %s; go: %s; weft %s" %
          (machine["cpu"], machine["cores"], machine["cores_usable"], machine["kernel"],
           machine["compiler"], machine["go"], machine["weft_commit"]))
    if not go_bin:
        print("note: %s" % note)
    print()
    if rows:
        print_table(rows)
        with_target = [r for r in rows if r["meets_target"] is not None]
        print()
        print("%d of %d figures with a target meet it; %d failed; %.0fs total." %
              (sum(1 for r in with_target if r["meets_target"]), len(with_target),
               sum(1 for r in rows if r["weft"]["summary"] is None or
                   (r["go"]["ran"] and r["go"]["summary"] is None)), elapsed))
    if args.quick:
        print("(--quick: tiny iteration counts; the figures prove the benchmarks run, "
              "they do not measure anything)")
    for r in rows:
        for side in ("weft", "go"):
            for e in r[side]["errors"]:
                print("failed: %s w=%d %s: %s" % (r["name"], r["workers"], side, e))
    if args.echo:
        if rows:
            print()
        echo.print_table(echo_rows, echo_notes)

    os.makedirs(args.out_dir, exist_ok=True)
    doc = {
        "machine": machine,
        "config": {"runs": args.runs, "workers": args.workers_list, "quick": args.quick,
                   "timeout_s": args.timeout, "build_dir": args.build_dir,
                   "go_twins": go_bin is not None, "note": note},
        "elapsed_s": round(elapsed, 1),
        "results": rows,
    }
    if args.echo:
        doc["echo"] = {"notes": echo_notes, "results": echo_rows}
    jpath = os.path.join(args.out_dir, "latest.json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
    spath = os.path.join(args.out_dir, "latest.svg")
    if rows:
        write_svg(spath, rows, machine, args.workers_list)
    log("bench: wrote %s%s" % (jpath, (" and %s" % spath) if rows else ""))
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
