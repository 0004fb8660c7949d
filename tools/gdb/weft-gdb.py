# weft-gdb.py — gdb commands for weft tasks, in a live process or a core file.
#
#   info weft-tasks          every live task: id, state, wait reason, name or
#                            entry function, where it blocks, spawn site
#   weft-task N              one task's details
#   weft-task N bt           that task's backtrace
#
# Installed next to the library as <libdir>/libweft.so.<version>-gdb.py and
# under <datadir>/gdb/auto-load/<libdir>/, so gdb loads it by itself for
# programs linked with libweft.so (given `set auto-load safe-path`).  For a
# static binary: `source <datadir>/weft/weft-gdb.py` (or put that line in
# ~/.gdbinit).  See README.md, "Debugging with gdb".
#
# How it reads the runtime (sched/task.c, sched/internal.h, sched/arch/):
# the task registry is the static array `shards` of sched/task.c, each an
# array of task pointers in chunks of 4096 (row i of `shard_chunks`; a
# slot with bit 0 set is free).  A parked task's registers were saved by the context switch: with the assembly switches on its own
# stack at frame.sp (x86-64: r15..rbp at sp+8..sp+48, the return address at
# sp+56, 64 bytes in all; aarch64: x29/x30 at sp+80/88, 176 bytes), with the
# ucontext fallback in frame.uc.uc_mcontext.
#
# Backtraces: in a live process the task's saved registers are put in the
# selected thread for the duration of gdb's own `bt` (full unwinding:
# inlined frames, arguments) and restored afterwards; a core file's
# registers cannot be written, so there the frame-record chain is walked
# here, each record checked to lie inside the task's stack, and every
# address is symbolized with gdb's own line tables.  `weft-task N bt walk`
# forces the walk in a live process too.

import struct

import gdb

WALK_MAX = 128

_STATE_NAMES = {1: "runnable", 2: "running", 3: "parked", 4: "dead"}


def _ulong():
    return gdb.lookup_type("unsigned long")


def _read_word(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return struct.unpack("<Q", bytes(mem))[0]


def _arch():
    try:
        name = gdb.selected_frame().architecture().name()
    except gdb.error:
        name = gdb.selected_inferior().architecture().name()
    if "aarch64" in name:
        return "aarch64"
    if "x86-64" in name or "x86_64" in name:
        return "x86-64"
    return name


def _static(name, file_suffix):
    """The static variable `name` defined in a file ending with file_suffix."""
    syms = []
    if hasattr(gdb, "lookup_static_symbols"):
        syms = gdb.lookup_static_symbols(name)
    elif hasattr(gdb, "lookup_static_symbol"):
        s = gdb.lookup_static_symbol(name)
        syms = [s] if s else []
    for s in syms:
        if s.symtab and s.symtab.filename.endswith(file_suffix):
            return s.value()
    try:
        return gdb.parse_and_eval("'%s'::%s" % (file_suffix.split("/")[-1], name))
    except gdb.error:
        raise gdb.GdbError(
            "weft: no %s in %s: is the program linked with weft, "
            "with debug info?" % (name, file_suffix)
        )


def _string(v):
    if int(v) == 0:
        return None
    try:
        return v.string()
    except gdb.error:
        return "<unreadable>"


# Wait reasons whose dump name is not their enumerator's (sched/park.c).
_WAIT_TEXT = {"WG": "wg wait", "CTX": "ctx wait", "GROUP": "errgroup",
              "FOREVER": "select (no cases)", "NONE": "running"}


def _wait_names():
    """The dump's names of the wait reasons: sched/park.c's table, or (when
    the compiler kept no copy of it) the enumerators of enum weft__wait."""
    names = {}
    try:
        arr = _static("wait_names", "sched/park.c")
        lo, hi = arr.type.range()
        for i in range(lo, hi + 1):
            s = _string(arr[i])
            if s:
                names[i] = s
        return names
    except (gdb.GdbError, gdb.error):
        pass
    try:
        for f in gdb.lookup_type("enum weft__wait").fields():
            key = f.name.replace("WEFT__WAIT_", "")
            names[f.enumval] = _WAIT_TEXT.get(key, key.lower().replace("_", " "))
    except gdb.error:
        pass
    return names


def tasks():
    """Every task in the registry, in id order."""
    shards = _static("shards", "sched/task.c")
    lo, hi = shards.type.range()
    out = []
    chunk_rows = _static("shard_chunks", "sched/task.c")
    task_ptr = gdb.lookup_type("weft__task").pointer()
    for i in range(lo, hi + 1):
        chunks, top = chunk_rows[i], int(shards[i]["top"])
        per = 4096  # WEFT__CHUNK_SLOTS
        for k in range(top):  # a slot with bit 0 set is free
            v = int(chunks[k // per][k % per])
            if v and not v & 1:
                out.append(gdb.Value(v).cast(task_ptr).dereference())
    if out and all(int(t["id"]) == 0 for t in out):
        gdb.write(
            "weft: the task records read as zeros.  A core written by gdb's gcore "
            "holds no task stacks when they are guarded with MADV_GUARD_INSTALL "
            "(Linux >= 6.13: gcore stops copying a mapping at its first guard); "
            "start the program with WEFT_STACK_GUARD=mprotect to gcore it, or "
            "use a core written by the kernel.\n")
    out.sort(key=lambda t: int(t["id"]))
    return out


def find_task(tid):
    for t in tasks():
        if int(t["id"]) == tid:
            return t
    raise gdb.GdbError("weft: no live task %d (see info weft-tasks)" % tid)


def _where(pc):
    """'func at file:line' for a return address, from gdb's tables."""
    if pc == 0:
        return "??"
    look = pc - 1
    func = None
    try:
        # The innermost function block, then the ones it was inlined into.
        names = []
        b = gdb.block_for_pc(look)
        while b is not None:
            if b.function is not None:
                names.append(b.function.print_name)
            b = b.superblock
        if names:
            func = names[0]
            if len(names) > 1:
                func += " (inlined into %s)" % " < ".join(names[1:])
    except (RuntimeError, gdb.error):
        pass
    if func is None:
        try:
            func = gdb.execute("info symbol 0x%x" % look, to_string=True).split(" in ")[0]
            func = func.split(" + ")[0].strip()
            if func.startswith("No symbol"):
                func = None
        except gdb.error:
            func = None
    sal = gdb.find_pc_line(look)
    s = func or "??"
    if sal.symtab is not None and sal.line:
        s += " at %s:%d" % (sal.symtab.filename, sal.line)
    return s


def _state(t):
    st = int(t["state"])
    if st == 3:
        return _wait_names().get(int(t["wait_reason"]), "parked")
    return _STATE_NAMES.get(st, "?")


def _describe(t):
    name = _string(t["name"])
    fn = _string(t["fn_name"])
    what = ('"%s"' % name) if name else ""
    if fn:
        what += (" (%s)" % fn) if name else fn
    if bool(t["is_main"]):
        what += " [weft_run main]"
    elif not bool(t["counted"]):
        what += " [internal]"
    return what.strip() or "?"


def _spawn_site(t):
    f = _string(t["file"])
    if not f:
        return "an unrecorded site"
    s = "%s:%d" % (f, int(t["line"]))
    func = _string(t["func"])
    if func:
        s += " in %s()" % func
    return s


def _saved_regs(t):
    """(pc, fp, sp, {reg: value}) of a task switched out, or None."""
    frame = t["frame"]
    arch = _arch()
    fields = [f.name for f in frame.type.fields()]
    lo = int(t["stack_lo"])
    hi = lo + int(t["stack_size"])
    if "uc" in fields:
        m = frame["uc"]["uc_mcontext"]
        if arch == "x86-64":
            g = [int(m["gregs"][i]) & 0xFFFFFFFFFFFFFFFF for i in range(17)]
            regs = {"r12": g[4], "r13": g[5], "r14": g[6], "r15": g[7], "rbp": g[10],
                    "rbx": g[11], "rsp": g[15], "rip": g[16]}
            return g[16], g[10], g[15], regs
        if arch == "aarch64":
            r = [int(m["regs"][i]) for i in range(31)]
            regs = {"x%d" % i: r[i] for i in range(19, 31)}
            regs.update({"sp": int(m["sp"]), "pc": int(m["pc"])})
            return int(m["pc"]), r[29], int(m["sp"]), regs
        return None
    sp = int(frame["sp"])
    if arch == "x86-64":
        if not (lo <= sp and sp + 64 <= hi):
            return None
        w = [_read_word(sp + 8 * i) for i in range(8)]
        regs = {"r15": w[1], "r14": w[2], "r13": w[3], "r12": w[4], "rbx": w[5],
                "rbp": w[6], "rsp": sp + 64, "rip": w[7]}
        return w[7], w[6], sp + 64, regs
    if arch == "aarch64":
        if not (lo <= sp and sp + 176 <= hi):
            return None
        x = [_read_word(sp + 8 * i) for i in range(12)]
        regs = {"x%d" % (19 + i): x[i] for i in range(10)}
        lr = x[11] & 0x0000FFFFFFFFFFFF  # no pointer authentication code
        regs.update({"x29": x[10], "x30": lr, "sp": sp + 176, "pc": lr})
        return lr, x[10], sp + 176, regs
    return None


def walk(t, into_entry=None):
    """Return addresses of a switched-out task, innermost first (its frame
    chain, as sched/diag/backtrace.c walks it).  into_entry, a list, gets
    the address returning into weft's task entry function (dropped)."""
    saved = _saved_regs(t)
    if saved is None:
        return None
    pc, fp, _sp, _regs = saved
    lo = int(t["stack_lo"])
    hi = lo + int(t["stack_size"])
    pcs = [pc] if pc else []
    while len(pcs) < WALK_MAX:
        if fp < lo or fp % 8 or fp + 16 > hi:
            break
        nxt = _read_word(fp)
        ret = _read_word(fp + 8)
        if _arch() == "aarch64":
            ret &= 0x0000FFFFFFFFFFFF
        if nxt == 0:
            if pcs:
                last = pcs.pop()  # returns into the task's entry function
                if into_entry is not None:
                    into_entry.append(last)
            break
        if ret == 0 or nxt <= fp:
            break
        pcs.append(ret)
        fp = nxt
    return pcs


def _blocked_at(t):
    """Where a parked task blocks, once its stack proves it (a park that
    did not record a site leaves an older one in wait_pc), or None."""
    site = int(t["wait_pc"])
    if int(t["state"]) != 3 or not site:
        return None
    if _arch() == "aarch64":
        site &= 0x0000FFFFFFFFFFFF
    entry = []
    try:
        pcs = walk(t, entry) or []
    except gdb.MemoryError:
        return None
    if site in pcs:
        return _where(site)
    if entry and entry[0] == site:
        fn = _string(t["fn_name"]) or "its entry function"
        return "%s (its last call, a tail call: no line)" % fn
    return None


def _bt_walk(t):
    pcs = walk(t)
    if pcs is None:
        gdb.write("(task %d: its saved frame is not inside its stack)\n" % int(t["id"]))
        return
    for i, pc in enumerate(pcs):
        gdb.write("#%-2d 0x%016x in %s\n" % (i, pc, _where(pc)))


def _bt_swap(t, args):
    """gdb's own bt with the task's registers in the selected thread.
    False if they cannot be written there (a core file): nothing is run."""
    saved = _saved_regs(t)
    if saved is None:
        gdb.write("(task %d: its saved frame is not inside its stack)\n" % int(t["id"]))
        return True
    regs = saved[3]
    frame0 = gdb.newest_frame()
    frame0.select()
    old = {r: int(frame0.read_register(r)) for r in regs}
    written = []
    try:
        for r, v in regs.items():
            try:
                gdb.execute("set $%s = %d" % (r, v), to_string=True)
            except gdb.error:
                return False  # a core file (writing the same value is let through)
            written.append(r)
        gdb.execute("bt " + args, to_string=False)
    finally:
        for r in written:
            try:
                gdb.execute("set $%s = %d" % (r, old[r]), to_string=True)
            except gdb.error:
                pass
        gdb.newest_frame().select()
    return True


class InfoWeftTasks(gdb.Command):
    """List weft tasks: id, state or wait reason, name or entry function,
where a parked task blocks, and where it was spawned."""

    def __init__(self):
        super().__init__("info weft-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        ts = tasks()
        names = _wait_names()
        gdb.write("%d task%s\n" % (len(ts), "" if len(ts) == 1 else "s"))
        for t in ts:
            st = int(t["state"])
            state = names.get(int(t["wait_reason"]), "parked") if st == 3 else _STATE_NAMES.get(st, "?")
            line = "  %-6d %-18s %s" % (int(t["id"]), state, _describe(t))
            where = _blocked_at(t)
            if where:
                line += "\n         blocked at %s" % where
            line += "\n         spawned at %s\n" % _spawn_site(t)
            gdb.write(line)


class WeftTask(gdb.Command):
    """weft-task N [bt [walk|ARGS]]: show task N, or its backtrace.
In a live process `bt` runs gdb's backtrace on the task's saved registers
(ARGS are passed to it); in a core file, or with `walk`, the task's
frame-pointer chain is walked instead."""

    def __init__(self):
        super().__init__("weft-task", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: weft-task N [bt [walk|ARGS]]")
        try:
            tid = int(argv[0], 0)
        except ValueError:
            raise gdb.GdbError("weft-task: %r is not a task id" % argv[0])
        t = find_task(tid)
        if len(argv) == 1:
            gdb.write("task %d %s [%s]\n" % (tid, _describe(t), _state(t)))
            where = _blocked_at(t)
            if where:
                gdb.write("    blocked at %s\n" % where)
            gdb.write("    spawned at %s\n" % _spawn_site(t))
            gdb.write("    stack [0x%x, 0x%x)\n" % (int(t["stack_lo"]),
                                                    int(t["stack_lo"]) + int(t["stack_size"])))
            return
        if argv[1] != "bt":
            raise gdb.GdbError("usage: weft-task N [bt [walk|ARGS]]")
        st = int(t["state"])
        if st == 2:
            gdb.write("(task %d is running: it is on some thread's stack, see `info threads`)\n" % tid)
            return
        if st == 4:
            gdb.write("(task %d has exited)\n" % tid)
            return
        rest = argv[2:]
        if rest[:1] == ["walk"] or not _bt_swap(t, " ".join(rest)):
            _bt_walk(t)


InfoWeftTasks()
WeftTask()
