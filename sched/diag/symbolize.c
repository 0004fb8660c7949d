/*
 * symbolize.c — return addresses to function, file and line for task
 * dumps, with elfutils' libdw (WEFT_HAVE_LIBDW), or dladdr's symbol names
 * when weft is built without it or a module has no debug info.
 *
 * A dump queues the distinct addresses of all its tasks in a table and
 * resolves them in one pass, after every task was copied and with no
 * runtime lock held (a dump of 100 000 tasks blocked at the same line
 * resolves a handful of addresses, not 100 000 stacks).  Results are copied
 * into the table, so nothing it hands out points into libdw's state.
 *
 * libdw state (one Dwfl for the process: the modules mapped, their parsed
 * line tables and DIEs) is kept between dumps, behind sym_mu: the first
 * dump pays for reading the debug info, later ones only for re-reading
 * /proc/self/maps (modules loaded or unloaded since are picked up or
 * dropped).  Separate debug info is looked up only locally, by build id
 * under /usr/lib/debug: a dump never goes to the network (debuginfod).
 *
 * libdw and the ELF readers want more stack than a task may have, so on a
 * task the resolution runs on a short-lived helper thread.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#ifdef WEFT_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

#include "stack.h"

bool weft__symtab_nocache;

/* ---- the table: open addressing on pc, an arena for the strings ---------- */

struct arena {
    struct arena *next;
    size_t used, cap;
    char data[];
};

struct weft__symtab {
    struct weft__sym *v; /* queued addresses, in order */
    size_t n, cap;
    size_t *slot; /* index + 1 into v, 0 empty; power-of-two size */
    size_t nslot;
    struct arena *strings;
    bool nocache;
};

static size_t hash_pc(uintptr_t pc)
{
    uint64_t x = (uint64_t)pc * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 29));
}

struct weft__symtab *weft__symtab_new(void)
{
    struct weft__symtab *t = weft__calloc(1, sizeof *t);
    if (t)
        t->nocache = weft__symtab_nocache;
    return t;
}

static bool rehash(struct weft__symtab *t, size_t nslot)
{
    size_t *s = weft__calloc(nslot, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = hash_pc(t->v[i].pc) & (nslot - 1);
        while (s[h] && t->v[s[h] - 1].pc != t->v[i].pc)
            h = (h + 1) & (nslot - 1);
        if (!s[h])
            s[h] = i + 1; /* duplicates (no cache): the first answers */
    }
    weft__free(t->slot);
    t->slot = s;
    t->nslot = nslot;
    return true;
}

static size_t *find_slot(const struct weft__symtab *t, uintptr_t pc)
{
    if (!t->nslot)
        return NULL;
    size_t h = hash_pc(pc) & (t->nslot - 1);
    while (t->slot[h] && t->v[t->slot[h] - 1].pc != pc)
        h = (h + 1) & (t->nslot - 1);
    return &t->slot[h];
}

bool weft__symtab_add(struct weft__symtab *t, uintptr_t pc)
{
    if (!t || !pc)
        return true;
    size_t *s = find_slot(t, pc);
    if (s && *s && !t->nocache)
        return true;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct weft__sym *v = weft__realloc(t->v, cap * sizeof *v);
        if (!v)
            return false;
        t->v = v;
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->nslot) {
        if (!rehash(t, t->nslot ? 2 * t->nslot : 128))
            return false;
        s = find_slot(t, pc);
    }
    memset(&t->v[t->n], 0, sizeof t->v[0]);
    t->v[t->n].pc = pc;
    if (!*s)
        *s = t->n + 1; /* without the cache, the first of the duplicates answers */
    t->n++;
    return true;
}

const struct weft__sym *weft__symtab_get(const struct weft__symtab *t, uintptr_t pc)
{
    if (!t)
        return NULL;
    size_t *s = find_slot(t, pc);
    return s && *s ? &t->v[*s - 1] : NULL;
}

/* A copy of s that lives as long as the table (NULL stays NULL, and so
 * does anything once memory runs out). */
static const char *keep(struct weft__symtab *t, const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s) + 1;
    struct arena *a = t->strings;
    if (!a || a->cap - a->used < len) {
        size_t cap = len > 16384 ? len : 16384;
        a = weft__malloc(sizeof *a + cap);
        if (!a)
            return NULL;
        a->next = t->strings;
        a->used = 0;
        a->cap = cap;
        t->strings = a;
    }
    char *p = a->data + a->used;
    memcpy(p, s, len);
    a->used += len;
    return p;
}

void weft__symtab_free(struct weft__symtab *t)
{
    if (!t)
        return;
    for (struct arena *a = t->strings, *nx; a; a = nx) {
        nx = a->next;
        weft__free(a);
    }
    weft__free(t->v);
    weft__free(t->slot);
    weft__free(t);
}

/* ---- dladdr: names of exported symbols, the module and offset ----------- */

static const char *base_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : NULL;
    return b ? b + 1 : path;
}

static void resolve_dladdr(struct weft__symtab *t, struct weft__sym *s)
{
    Dl_info info;
    struct weft__sym_frame *f = &s->f[0];
    s->n = 1;
    if (!dladdr((void *)(s->pc - 1), &info))
        return;
    f->func = keep(t, info.dli_sname);
    f->module = keep(t, base_name(info.dli_fname));
    f->offset = s->pc - (uintptr_t)info.dli_fbase;
}

/* ---- libdw --------------------------------------------------------------- */

#ifdef WEFT_HAVE_LIBDW

static pthread_mutex_t sym_mu = PTHREAD_MUTEX_INITIALIZER;
static Dwfl *dwfl;
static char *debuginfo_path;

/* Separate debug info, looked up locally by build id only. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    (void)userdata, (void)modname, (void)base, (void)file_name, (void)debuglink_file,
        (void)debuglink_crc;
    const unsigned char *id;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &id, &vaddr);
    if (len < 2)
        return -1;
    char path[64 + 2 * 64];
    int k = snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", id[0]);
    for (int i = 1; i < len && k + 3 < (int)sizeof path - 7; i++)
        k += snprintf(path + k, sizeof path - (size_t)k, "%02x", id[i]);
    snprintf(path + k, sizeof path - (size_t)k, ".debug");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        *debuginfo_file_name = strdup(path);
    return fd;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* The modules mapped now (sym_mu held).  false: libdw is unusable. */
static bool dwfl_refresh(void)
{
    if (!dwfl) {
        dwfl = dwfl_begin(&callbacks);
        if (!dwfl)
            return false;
    }
    dwfl_report_begin(dwfl);
    int r = dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, NULL, NULL);
    return r == 0;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    return n;
}

/* The first function scope (a subprogram or an inlined call) in sc[from..n). */
static int function_scope(Dwarf_Die *sc, int n, int from)
{
    for (int i = from; i < n; i++) {
        int tag = dwarf_tag(&sc[i]);
        if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine)
            return i;
    }
    return -1;
}

/* The inlined-call chain at addr (CU-relative): fills the function names
 * of s->f[0..] and, for each inlined level, its call site, which is where
 * the enclosing frame stands.  Returns the frame count (0 when the CU has
 * no function scope for addr).
 *
 * dwarf_getscopes gives the scopes of the innermost inlined instance and
 * then those of its abstract definition, not of the function it was
 * inlined into: each enclosing function comes from the scopes containing
 * the inlined instance's own DIE (dwarf_getscopes_die). */
static unsigned inline_chain(struct weft__symtab *t, Dwarf_Die *cu, Dwarf_Addr addr,
                             struct weft__sym *s)
{
    Dwarf_Die *sc = NULL;
    int nsc = dwarf_getscopes(cu, addr, &sc);
    int i = nsc > 0 ? function_scope(sc, nsc, 0) : -1;
    if (i < 0) {
        free(sc);
        return 0;
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
        files = NULL;
    unsigned k = 0;
    Dwarf_Die die = sc[i];
    free(sc);
    for (;;) {
        s->f[k++].func = keep(t, die_name(&die));
        if (dwarf_tag(&die) == DW_TAG_subprogram || k == WEFT__SYM_INLINE)
            break; /* the real function; or deeper than we keep (outer frames dropped) */
        Dwarf_Attribute a;
        Dwarf_Word file = 0, line = 0;
        dwarf_formudata(dwarf_attr(&die, DW_AT_call_file, &a), &file);
        dwarf_formudata(dwarf_attr(&die, DW_AT_call_line, &a), &line);
        s->f[k].file = files && file < nfiles ? keep(t, dwarf_filesrc(files, file, NULL, NULL))
                                              : NULL;
        s->f[k].line = (int)line;
        Dwarf_Die *up = NULL;
        int nup = dwarf_getscopes_die(&die, &up);
        int j = nup > 1 ? function_scope(up, nup, 1) : -1;
        if (j < 0) {
            free(up);
            k++; /* a location with no enclosing function found: kept unnamed */
            break;
        }
        die = up[j];
        free(up);
    }
    return k;
}

/* The compilation unit holding pc.  Without .debug_aranges (clang does not
 * emit them by default) this libdw finds none by address: then the CUs are
 * scanned for one whose ranges hold pc. */
static Dwarf_Die *cu_of(Dwfl_Module *mod, Dwarf_Addr pc, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, bias);
    if (cu)
        return cu;
    for (cu = dwfl_module_nextcu(mod, NULL, bias); cu; cu = dwfl_module_nextcu(mod, cu, bias))
        if (dwarf_haspc(cu, pc - *bias) == 1)
            return cu;
    return NULL;
}

/* Resolve s with libdw (sym_mu held).  false: no module covers the address. */
static bool resolve_dw(struct weft__symtab *t, struct weft__sym *s)
{
    Dwarf_Addr pc = (Dwarf_Addr)(s->pc - 1); /* inside the call instruction */
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
    if (!mod)
        return false;
    Dwarf_Addr start = 0;
    const char *modname = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    const char *mname = keep(t, base_name(modname));
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *symname = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);

    struct weft__sym_frame *f0 = &s->f[0];
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = cu_of(mod, pc, &bias);
    Dwarf_Line *ln = cu ? dwarf_getsrc_die(cu, pc - bias) : NULL;
    int line = 0;
    if (ln && dwarf_lineno(ln, &line) == 0) {
        f0->file = keep(t, dwarf_linesrc(ln, NULL, NULL));
        f0->line = line;
    }
    unsigned n = cu ? inline_chain(t, cu, pc - bias, s) : 0;
    if (n == 0) {
        n = 1;
        f0->func = keep(t, symname);
    } else if (!s->f[n - 1].func) {
        s->f[n - 1].func = keep(t, symname);
    }
    s->n = n;
    for (unsigned i = 0; i < n; i++) {
        s->f[i].module = mname;
        s->f[i].offset = s->pc - (uintptr_t)start;
    }
    return true;
}

static void resolve_all(struct weft__symtab *t)
{
    pthread_mutex_lock(&sym_mu);
    bool dw = dwfl_refresh();
    for (size_t i = 0; i < t->n; i++)
        if (!dw || !resolve_dw(t, &t->v[i]))
            resolve_dladdr(t, &t->v[i]);
    pthread_mutex_unlock(&sym_mu);
}

#else /* !WEFT_HAVE_LIBDW */

static void resolve_all(struct weft__symtab *t)
{
    for (size_t i = 0; i < t->n; i++)
        resolve_dladdr(t, &t->v[i]);
}

#endif

static void *resolve_main(void *p)
{
    resolve_all(p);
    return NULL;
}

void weft__symtab_resolve(struct weft__symtab *t)
{
    if (!t || !t->n)
        return;
    if (!weft_self()) {
        resolve_all(t); /* a thread's own stack: room enough */
        return;
    }
    /* On a task: a thread with a full-size stack does it.  The task's
     * worker waits for it (as for any blocking write of the dump). */
    pthread_t th;
    if (weft__thread_create(&th, resolve_main, t) == 0) {
        pthread_join(th, NULL);
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        resolve_dladdr(t, &t->v[i]); /* light enough for a task's stack */
}
