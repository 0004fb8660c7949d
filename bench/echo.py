#!/usr/bin/env python3
"""The echo benchmark: weft's echo server against Go's, driven by one Go load client.

Usage:
    bench/echo.py BUILD_DIR [--conns 1000,10000] [--workers 1,2] [--runs N]
                            [--duration S] [--warmup S] [--size B] [--quick]

bench/run.py runs it as its 'echo' group (after the other benchmarks, or
alone with `--only echo`); this script runs it by itself.

For every (connections, workers) pair and every run, each side in turn
(the order flips every run, as in run.py):
  1. starts its server on 127.0.0.1, port 0:
       weft: BUILD/bench/bench_echo_server 0 WORKERS MAX_S   (WEFT_PROCS=WORKERS)
       Go:   weft-bench-go -bench echo_server -workers WORKERS -max-seconds MAX_S
     and reads its "LISTENING port=P ..." line;
  2. runs the SAME Go client against it:
       weft-bench-go -bench echo_client -addr 127.0.0.1:P -conns C
                     -size B -warmup W -duration D
     which dials C connections (untimed), then has every connection do
     request/response round trips of B bytes for W + D seconds and prints
     requests/s and p50/p90/p99/p99.9 latency over the D measured seconds;
  3. stops the server (SIGTERM and end of stdin); a server that does not
     exit cleanly within 15 s fails that run.
Medians over the runs; the table gives weft/Go for requests/s (HIGHER is
better, target >= 1) and for p99 latency (LOWER is better, target <= 1).

The servers stop by themselves after MAX_S seconds too (a driver killed
half-way leaves nothing running for long).  Connection counts that do not
fit RLIMIT_NOFILE (client and server each need one descriptor per
connection) or the ephemeral port range are lowered to the largest that
fits, and the output says so.

Python 3 standard library only.
"""
import argparse
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_CONNS = [1000, 10000]
QUICK_CONNS = [100]
DEFAULT_DURATION, DEFAULT_WARMUP = 5.0, 1.0
QUICK_DURATION, QUICK_WARMUP = 0.5, 0.1
DEFAULT_SIZE = 64
FD_RESERVE = 64          # descriptors kept for each process's own use
TARGET_RPS = 1.0         # weft/Go requests/s: at least this (higher is better)
TARGET_P99 = 1.0         # weft/Go p99 latency: at most this (lower is better)
START_TIMEOUT = 10.0     # for the LISTENING line
STOP_TIMEOUT = 15.0      # for the server to exit after SIGTERM


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fnum(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3f" % v


# --------------------------------------------------------------------------
# limits
# --------------------------------------------------------------------------
def conn_limit():
    """(largest connection count that fits, why) from RLIMIT_NOFILE's hard
    limit (both programs raise their soft limit to it; the server and the
    client each hold one descriptor per connection) and the ephemeral port
    range (every client connection needs a local port)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lim = hard if hard != resource.RLIM_INFINITY else 1 << 20
    best, why = lim - FD_RESERVE, "RLIMIT_NOFILE hard limit %d" % lim
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        ports = hi - lo + 1 - 1000   # leave room for the machine's other traffic
        if ports < best:
            best, why = ports, "ephemeral port range %d-%d" % (lo, hi)
    except (OSError, ValueError):
        pass
    return max(best, 1), why


# --------------------------------------------------------------------------
# one run of one side
# --------------------------------------------------------------------------
def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def read_line(p, timeout):
    """The first line p writes on stdout, within timeout (None if not)."""
    fd = p.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace")


def tail_of(f, n=3):
    try:
        f.seek(0)
        lines = f.read().decode(errors="replace").strip().splitlines()
    except (OSError, ValueError):
        return ""
    return " | ".join(lines[-n:])


def reap(p, timeout):
    """Wait for p up to timeout; (exit status or None, CPU seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        except ChildProcessError:
            return p.returncode, None
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status) if hasattr(
                os, "waitstatus_to_exitcode") else (status >> 8 if os.WIFEXITED(status)
                                                    else -os.WTERMSIG(status))
            return p.returncode, ru.ru_utime + ru.ru_stime
        if time.monotonic() >= deadline:
            return None, None
        time.sleep(0.02)


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass


def run_side(side, server_cmd, server_env, client_cmd, client_timeout):
    """Start the server, run the client against it, stop the server.
    Returns (result dict or None, error or None, note or None)."""
    err_f = tempfile.TemporaryFile()
    try:
        srv = subprocess.Popen(server_cmd, env=server_env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=err_f, start_new_session=True)
    except OSError as e:
        return None, "cannot run %s: %s" % (server_cmd[0], e), None
    res, err, note = None, None, None
    try:
        line = read_line(srv, START_TIMEOUT)
        if not line or not line.startswith("LISTENING "):
            kill_group(srv)
            reap(srv, 5)
            return None, "server printed no LISTENING line within %gs: %s" % (
                START_TIMEOUT, tail_of(err_f)), None
        port = parse_kv(line).get("port")
        cmd = [c.replace("{PORT}", port) for c in client_cmd]
        try:
            cl = subprocess.run(cmd, env=client_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                timeout=client_timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            err = "client timed out after %gs (killed)" % client_timeout
            cl = None
        if cl is not None:
            lines = [l for l in cl.stdout.splitlines() if l.startswith("RESULT ")]
            ctail = " | ".join(cl.stderr.strip().splitlines()[-3:])
            if cl.returncode != 0:
                err = "client exit status %d: %s" % (cl.returncode, ctail)
            elif not lines:
                err = "client printed no RESULT line: %s" % ctail
            else:
                res = parse_kv(lines[-1])
                for k in list(res):
                    try:
                        res[k] = float(res[k])
                    except ValueError:
                        pass
                notes = [l for l in cl.stderr.splitlines() if "NOTE" in l]
                note = notes[0] if notes else None
    finally:
        # Stop the server: SIGTERM and end of stdin.
        if srv.returncode is None:
            try:
                srv.send_signal(signal.SIGTERM)
            except OSError:
                pass
            try:
                srv.stdin.close()
            except OSError:
                pass
            rc, cpu = reap(srv, STOP_TIMEOUT)
            if rc is None:
                kill_group(srv)
                reap(srv, 5)
                err = err or ("server did not exit within %gs of SIGTERM (killed): %s" %
                              (STOP_TIMEOUT, tail_of(err_f)))
            elif rc != 0:
                err = err or "server exit status %d: %s" % (rc, tail_of(err_f))
            elif res is not None:
                res["server_cpu_s"] = round(cpu, 3) if cpu is not None else None
                res["server_log"] = tail_of(err_f, 1)
        err_f.close()
        try:
            srv.stdout.close()
        except OSError:
            pass
    return res, err, note


def client_env():
    env = dict(os.environ)
    env.pop("GOMAXPROCS", None)   # the client uses every CPU, for both servers alike
    return env


# --------------------------------------------------------------------------
# the group
# --------------------------------------------------------------------------
def run(build_dir, go_bin, workers_list, runs, quick=False, conns=None, duration=None,
        warmup=None, size=DEFAULT_SIZE, max_seconds=None):
    """Run the echo group.  Returns (rows, notes, any_failed)."""
    bench_dir = os.path.join(build_dir, "bench")
    notes = []
    if not go_bin:
        notes.append("echo: skipped: the load client is the Go binary, and there is none")
        return [], notes, False
    conns = conns or (QUICK_CONNS if quick else DEFAULT_CONNS)
    duration = duration or (QUICK_DURATION if quick else DEFAULT_DURATION)
    warmup = warmup if warmup is not None else (QUICK_WARMUP if quick else DEFAULT_WARMUP)
    limit, why = conn_limit()
    plan = []
    for c in conns:
        if c > limit:
            notes.append("echo: %d connections do not fit (%s): running %d instead" %
                         (c, why, limit))
            c = limit
        if c not in plan:
            plan.append(c)
    # generous: dialing 10k connections on a loaded machine takes a few seconds
    client_timeout = warmup + duration + 30 + max(plan) / 500.0
    max_seconds = max_seconds or int(client_timeout + STOP_TIMEOUT + 30)
    weft_srv = os.path.join(bench_dir, "bench_echo_server")
    rows = []
    any_failed = False
    total = len(plan) * len(workers_list) * runs * 2
    done = 0
    for c in plan:
        for w in workers_list:
            client_cmd = [go_bin, "-bench", "echo_client", "-addr", "127.0.0.1:{PORT}",
                          "-conns", str(c), "-size", str(size), "-warmup", "%gs" % warmup,
                          "-duration", "%gs" % duration]
            sides = {
                "weft": {"cmd": [weft_srv, "0", str(w), str(max_seconds)],
                         "env": dict(os.environ, WEFT_PROCS=str(w))},
                "go": {"cmd": [go_bin, "-bench", "echo_server", "-workers", str(w),
                               "-max-seconds", str(max_seconds)],
                       "env": dict(os.environ, GOMAXPROCS=str(w))},
            }
            for s in sides.values():
                s.update(results=[], errors=[], notes=[])
            for r in range(runs):
                for side in (["weft", "go"] if r % 2 == 0 else ["go", "weft"]):
                    s = sides[side]
                    done += 1
                    tag = "[echo %d/%d] conns=%d w=%d %s run %d/%d" % (done, total, c, w, side,
                                                                      r + 1, runs)
                    if s["errors"]:
                        log("%s: skipped after failure" % tag)
                        continue
                    if side == "weft" and not os.access(weft_srv, os.X_OK):
                        res, err, note = None, "not built: %s" % weft_srv, None
                    else:
                        t0 = time.monotonic()
                        res, err, note = run_side(side, s["cmd"], s["env"], client_cmd,
                                                  client_timeout)
                    if note and note not in s["notes"]:
                        s["notes"].append(note)
                    if err:
                        s["errors"].append(err)
                        any_failed = True
                        log("%s: FAILED: %s" % (tag, err))
                        continue
                    s["results"].append(res)
                    log("%s: %s req/s, p50 %s us, p99 %s us, conns %d, server cpu %ss (%.1fs)" %
                        (tag, fnum(res["value"]), fnum(res.get("p50_us")),
                         fnum(res.get("p99_us")), int(res.get("conns", c)),
                         fnum(res.get("server_cpu_s")), time.monotonic() - t0))
            row = {"conns": c, "workers": w, "runs": runs, "size": size,
                   "duration_s": duration, "warmup_s": warmup}
            for side, s in sides.items():
                ok = s["results"] if not s["errors"] else []
                summ = {}
                for k in ("value", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
                          "conn_min", "server_cpu_s"):
                    vals = [x[k] for x in ok if isinstance(x.get(k), float)]
                    summ[k] = ({"median": statistics.median(vals), "min": min(vals),
                                "max": max(vals)} if vals else None)
                conns_used = sorted({int(x["conns"]) for x in ok if "conns" in x})
                row[side] = {"cmd": s["cmd"], "runs": s["results"], "errors": s["errors"],
                             "notes": s["notes"], "summary": summ if ok else None,
                             "conns_used": conns_used}
                for n in s["notes"]:
                    if n not in notes:
                        notes.append(n)
            row["client_cmd"] = client_cmd
            ws, gs = row["weft"]["summary"], row["go"]["summary"]
            row["ratio_rps"] = row["ratio_p99"] = None
            if ws and gs:
                if gs["value"] and gs["value"]["median"] > 0:
                    row["ratio_rps"] = ws["value"]["median"] / gs["value"]["median"]
                if gs["p99_us"] and gs["p99_us"]["median"] > 0:
                    row["ratio_p99"] = ws["p99_us"]["median"] / gs["p99_us"]["median"]
            rows.append(row)
    return rows, notes, any_failed


def print_table(rows, notes, out=sys.stdout):
    if not rows:
        for n in notes:
            print(n, file=out)
        return
    r0 = rows[0]
    print("echo: %d-byte request/response round trips on loopback, one Go load client; "
          "%g s measured after %g s warm-up; medians of %d run%s per side [min–max]" %
          (r0["size"], r0["duration_s"], r0["warmup_s"], r0["runs"],
           "" if r0["runs"] == 1 else "s"), file=out)
    print("req/s: HIGHER is better (weft/go target ≥%.2f); p50/p99 latency in µs: LOWER is "
          "better (weft/go p99 target ≤%.2f)" % (TARGET_RPS, TARGET_P99), file=out)
    head = ["conns", "workers", "weft req/s", "go req/s", "weft/go req/s ↑",
            "weft p50", "go p50", "weft p99", "go p99", "weft/go p99 ↓"]

    def cell(side, k):
        s = side["summary"]
        if s is None:
            return "FAILED"
        v = s.get(k)
        if v is None:
            return "-"
        if k == "value":
            return "%s [%s–%s]" % (fnum(v["median"]), fnum(v["min"]), fnum(v["max"]))
        return fnum(v["median"])

    lines = []
    for r in rows:
        rr = r["ratio_rps"]
        rp = r["ratio_p99"]
        lines.append([
            str(r["conns"]), str(r["workers"]), cell(r["weft"], "value"), cell(r["go"], "value"),
            "-" if rr is None else "%.3f %s" % (rr, "ok" if rr >= TARGET_RPS else "MISS"),
            cell(r["weft"], "p50_us"), cell(r["go"], "p50_us"),
            cell(r["weft"], "p99_us"), cell(r["go"], "p99_us"),
            "-" if rp is None else "%.3f %s" % (rp, "ok" if rp <= TARGET_P99 else "MISS")])
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(len(head))]
    left = {2, 3}

    def fmt(cols):
        return "  ".join((c.ljust(w) if i in left else c.rjust(w))
                         for i, (c, w) in enumerate(zip(cols, widths))).rstrip()

    print(fmt(head), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for l in lines:
        print(fmt(l), file=out)
    starved = [(r["conns"], r["workers"], side) for r in rows for side in ("weft", "go")
               if r[side]["summary"] and r[side]["summary"]["conn_min"] and
               r[side]["summary"]["conn_min"]["min"] == 0]
    for c, w, side in starved:
        print("note: %s conns=%d w=%d: some connection completed no round trip in a measured "
              "window (conn_min=0)" % (side, c, w), file=out)
    for n in notes:
        print("note: " + n if not n.startswith("echo") else n, file=out)
    for r in rows:
        for side in ("weft", "go"):
            for e in r[side]["errors"]:
                print("failed: echo conns=%d w=%d %s: %s" % (r["conns"], r["workers"], side, e),
                      file=out)


def parse_list(s, what):
    try:
        v = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("echo: %s wants a comma-separated list of integers" % what)
    if not v or min(v) < 1:
        raise SystemExit("echo: %s wants positive integers" % what)
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description="weft's echo server vs Go's, one Go load client.")
    ap.add_argument("build_dir", help="CMake build directory of weft")
    ap.add_argument("--conns", help="connection counts (default 1000,10000; 100 with --quick)")
    ap.add_argument("--workers", default="1,2", help="server worker counts (default 1,2)")
    ap.add_argument("--runs", type=int, help="runs per side (default 5; 1 with --quick)")
    ap.add_argument("--duration", type=float, help="measured seconds per run (default 5)")
    ap.add_argument("--warmup", type=float, help="unmeasured seconds before (default 1)")
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help="message bytes (default 64)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 100 connections, 1 run")
    ap.add_argument("--go-bin", help="a prebuilt weft-bench-go (skips go build)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    sys.path.insert(0, HERE)
    import run as runner  # bench/run.py: the Go build and the machine description
    a.build_dir = os.path.abspath(a.build_dir)
    a.only, a.no_go = None, False
    go_bin, go_version, note = runner.prepare_go(a)
    log("echo: " + note)
    runs = a.runs or (1 if a.quick else 5)
    rows, notes, failed = run(a.build_dir, go_bin, parse_list(a.workers, "--workers"), runs,
                              quick=a.quick,
                              conns=parse_list(a.conns, "--conns") if a.conns else None,
                              duration=a.duration, warmup=a.warmup, size=a.size)
    m = runner.machine_info(a.build_dir, go_version)
    print()
    print("machine: %s, %s cores (%s usable), %s; go: %s; weft %s" %
          (m["cpu"], m["cores"], m["cores_usable"], m["kernel"], m["go"], m["weft_commit"]))
    print_table(rows, notes)
    return 1 if failed or (go_bin is None) else 0


if __name__ == "__main__":
    sys.exit(main())
