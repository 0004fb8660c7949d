/*
 * weft-stress — randomized, seed-reproducible torture of the weft runtime.
 *
 *   weft-stress [--seed N] [--duration S] [--workers N] [--scale N]
 *               [--only a,b,...] [--rounds N] [--start-round N] [--watchdog S]
 *               [--no-threads] [--quiet] [--list]
 *
 * Every selected scenario (see --list and docs/stress.md) runs in its own
 * driver task, all at the same time, round after round until the duration
 * is over.  Each round draws its configuration from a PRNG seeded by
 * (--seed, scenario, round number), checks its invariants and counts
 * operations and checks.  At the end the number of live tasks must be back
 * to its start value, the leak checker must find nothing, and weft_shutdown
 * must report no task alive.  Prints a summary
 * and PASS or FAIL; exits 0 on PASS, 1 on an invariant failure, 2 on a
 * usage error and 3 when the watchdog saw no progress (after a task dump).
 */
#include "stress.h"

#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

struct stress_opts g_opt = {
    .duration = 5.0, .scale = 1, .watchdog_s = 30, .threads = 1,
};
int64_t g_end;
atomic_int g_stop;

/* Self-tests of the harness itself (never run unless named in --only):
 * one round that fails a check, and one that hangs for the watchdog. */
static void selftest_fail_round(struct scenario *sc, struct rng *r)
{
    (void)r;
    CHECK(sc, sc == NULL, "deliberate failure (self-test of the FAIL path)");
    weft_sleep(10 * WEFT_MS);
}

static void blocked_fn(void *arg) { weft_chan_recv(arg, NULL); }

static void selftest_hang_round(struct scenario *sc, struct rng *r)
{
    (void)r;
    PHASE(sc, "selftest: waiting for a task that never returns");
    weft_chan *never = weft_chan_make(0, 0);
    struct crew crew;
    crew_init(&crew, 1);
    crew_go(&crew, "selftest.blocked", blocked_fn, never, false);
    crew_wait(&crew); /* never returns: the watchdog fires */
}

static struct scenario scenarios[] = {
    {.name = "spawn", .round = sc_spawn_round,
     .what = "spawn trees: weft_go / go_copy / go_opts, from tasks and threads; sleep bounds"},
    {.name = "chan", .round = sc_chan_round,
     .what = "send/recv on buffered and unbuffered channels, mixed op kinds, racing close"},
    {.name = "try", .round = sc_try_round,
     .what = "try_send/try_recv heavy traffic with blocking fallbacks"},
    {.name = "select", .round = sc_select_round,
     .what = "select with mixed directions, NULL cases, duplicates, deadlines, default, close"},
    {.name = "close", .round = sc_close_round,
     .what = "close racing parked senders, receivers and selects"},
    {.name = "timer", .round = sc_timer_round,
     .what = "timers and tickers: firing bounds, stop/reset races, no stale values"},
    {.name = "ctx", .round = sc_ctx_round,
     .what = "context trees: cancel, deadlines, values, release racing cancel, after_func"},
    {.name = "mutex", .round = sc_mutex_round,
     .what = "mutex mutual exclusion (non-atomic counter), trylock, tasks and threads"},
    {.name = "wg", .round = sc_wg_round,
     .what = "WaitGroup generations, nested adds, many waiters, wait_ctx, misuse"},
    {.name = "once", .round = sc_once_round, .what = "weft_once_do: exactly once, callers wait"},
    {.name = "group", .round = sc_group_round,
     .what = "errgroup: first error wins, cancellation, SetLimit bound"},
    {.name = "selftest-fail", .round = selftest_fail_round, .selftest = true,
     .what = "(self-test, only with --only) fails a check: exit status 1"},
    {.name = "selftest-hang", .round = selftest_hang_round, .selftest = true,
     .what = "(self-test, only with --only) hangs: the watchdog dumps, exit status 3"},
};
enum { NSCEN = sizeof scenarios / sizeof scenarios[0] };

/* ---- failures ------------------------------------------------------------- */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint_fast64_t harness_failures;
static atomic_uint_fast64_t printed_failures;
enum { MAX_PRINTED_FAILURES = 40 };

void stress_fail(struct scenario *sc, const char *file, int line, const char *fmt, ...)
{
    if (sc)
        atomic_fetch_add(&sc->failed, 1);
    else
        atomic_fetch_add(&harness_failures, 1);
    if (atomic_fetch_add(&printed_failures, 1) >= MAX_PRINTED_FAILURES)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    pthread_mutex_lock(&out_mu);
    if (sc)
        fprintf(stderr,
                "weft-stress: FAIL [%s round %" PRIu64 ", round seed 0x%016" PRIx64
                ", --seed %" PRIu64 "] %s:%d: %s\n",
                sc->name, (uint64_t)atomic_load(&sc->round_no),
                (uint64_t)atomic_load(&sc->round_seed), g_opt.seed, base ? base + 1 : file, line,
                msg);
    else
        fprintf(stderr, "weft-stress: FAIL [harness, --seed %" PRIu64 "] %s:%d: %s\n", g_opt.seed,
                base ? base + 1 : file, line, msg);
    if (atomic_load(&printed_failures) == MAX_PRINTED_FAILURES)
        fprintf(stderr, "weft-stress: (further failures are counted, not printed)\n");
    fflush(stderr);
    pthread_mutex_unlock(&out_mu);
}

__attribute__((noinline)) int stress_errno(void) { return errno; }

/* ---- crews ------------------------------------------------------------------ */

struct member {
    struct crew *crew;
    void (*fn)(void *);
    void *arg;
};

static void member_finish(struct crew *c)
{
    int rc = weft_chan_send(c->done, NULL);
    if (rc != 0)
        stress_fail(NULL, __FILE__, __LINE__, "crew done send returned %d", rc);
}

static void member_task(void *p)
{
    struct member m = *(struct member *)p;
    free(p);
    m.fn(m.arg);
    member_finish(m.crew);
}

static void *member_thread(void *p)
{
    struct member m = *(struct member *)p;
    free(p);
    if (weft_self() != 0)
        stress_fail(NULL, __FILE__, __LINE__, "weft_self() != 0 on a plain thread");
    m.fn(m.arg);
    member_finish(m.crew);
    return NULL;
}

void crew_init(struct crew *c, int cap)
{
    memset(c, 0, sizeof *c);
    c->done = weft_chan_make(0, (size_t)(cap > 0 ? cap : 1));
    if (!c->done) {
        fprintf(stderr, "weft-stress: weft_chan_make failed: %s\n", strerror(errno));
        abort();
    }
}

bool crew_go(struct crew *c, const char *name, void (*fn)(void *), void *arg, bool as_thread)
{
    struct member *m = malloc(sizeof *m);
    if (!m)
        abort();
    *m = (struct member){c, fn, arg};
    c->members++;
    if (as_thread && g_opt.threads && c->nthreads < CREW_MAX_THREADS) {
        if (pthread_create(&c->threads[c->nthreads], NULL, member_thread, m) == 0) {
            c->nthreads++;
            return true;
        }
    }
    struct weft_task_opts o = {.name = name};
    for (int tries = 0;; tries++) {
        int rc = weft_go_opts(&o, member_task, m);
        if (rc == 0)
            return false;
        if (tries == 100) {
            fprintf(stderr, "weft-stress: weft_go_opts failed: %s\n", strerror(rc));
            abort();
        }
        weft_sleep(WEFT_MS);
    }
}

void crew_wait(struct crew *c)
{
    for (int i = 0; i < c->members; i++) {
        int rc = weft_chan_recv(c->done, NULL);
        if (rc != 0) {
            stress_fail(NULL, __FILE__, __LINE__, "crew done recv returned %d", rc);
            break;
        }
    }
    for (int i = 0; i < c->nthreads; i++)
        pthread_join(c->threads[i], NULL);
    weft_chan_release(c->done);
    c->done = NULL;
}

void stress_jitter(struct rng *r, int max_us)
{
    switch (rng_below(r, 4)) {
    case 0:
    case 1:
        break;
    case 2:
        for (int n = (int)rng_range(r, 1, 3); n > 0; n--)
            weft_yield();
        break;
    default:
        weft_sleep(rng_range(r, 0, max_us) * WEFT_US);
        break;
    }
}

/* ---- drivers ---------------------------------------------------------------- */

static void driver(void *p)
{
    struct scenario *sc = p;
    sc->t_start = weft_now();
    for (uint64_t n = g_opt.start_round;; n++) {
        if (stress_stopping() || weft_now() >= g_end)
            break;
        if (g_opt.rounds && n - g_opt.start_round >= g_opt.rounds)
            break;
        uint64_t rs = seed_of(g_opt.seed, ((uint64_t)sc->id << 48) ^ n);
        atomic_store(&sc->round_seed, rs);
        atomic_store(&sc->round_no, n);
        PHASE(sc, "round");
        struct rng r = {rs};
        sc->round(sc, &r);
        sc->rounds_done++;
    }
    sc->t_stop = weft_now();
    PHASE(sc, "finished");
}

/* ---- watchdog ------------------------------------------------------------- */

static atomic_int finished;
static atomic_uint_fast64_t harness_progress;
static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;

static uint64_t progress(void)
{
    uint64_t p = atomic_load(&harness_progress);
    for (int i = 0; i < NSCEN; i++)
        p += atomic_load(&scenarios[i].ops) + atomic_load(&scenarios[i].checks) +
             atomic_load(&scenarios[i].failed);
    return p;
}

static void watchdog_fire(const char *why)
{
    pthread_mutex_lock(&out_mu);
    fprintf(stderr, "\nweft-stress: WATCHDOG: %s (--seed %" PRIu64 ")\n", why, g_opt.seed);
    for (int i = 0; i < NSCEN; i++) {
        struct scenario *sc = &scenarios[i];
        if (!sc->enabled)
            continue;
        const char *ph = atomic_load(&sc->phase);
        fprintf(stderr,
                "  %-13s round %" PRIu64 " (round seed 0x%016" PRIx64 "), phase: %s, ops %" PRIu64
                "\n",
                sc->name, (uint64_t)atomic_load(&sc->round_no),
                (uint64_t)atomic_load(&sc->round_seed), ph ? ph : "-",
                (uint64_t)atomic_load(&sc->ops));
    }
    fprintf(stderr, "weft-stress: task dump follows (weft_num_tasks() = %zu)\n", weft_num_tasks());
    fflush(stderr);
    weft_dump_tasks(stderr);
    fprintf(stderr, "weft-stress: FAIL (hang; --seed %" PRIu64 ")\n", g_opt.seed);
    fflush(stderr);
    _exit(3);
}

static void *watchdog(void *arg)
{
    (void)arg;
    /* It only watches (and dumps): weft's verdicts need not wait for it. */
    weft_thread_ignore();
    uint64_t last = progress();
    int64_t last_t = weft_now();
    int64_t limit = (int64_t)g_opt.watchdog_s * WEFT_SEC;
    /* A run that keeps making progress but never ends (a livelocked round)
     * is a failure too. */
    int64_t overrun = 120 * WEFT_SEC > 2 * limit ? 120 * WEFT_SEC : 2 * limit;
    pthread_mutex_lock(&wd_mu);
    while (!atomic_load(&finished)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
        if (atomic_load(&finished))
            break;
        int64_t now = weft_now();
        if (now >= g_end)
            atomic_store(&g_stop, 1);
        uint64_t cur = progress();
        if (cur != last) {
            last = cur;
            last_t = now;
        } else if (now - last_t >= limit) {
            char why[96];
            snprintf(why, sizeof why, "no progress for %d s", g_opt.watchdog_s);
            watchdog_fire(why);
        }
        if (g_end != WEFT_FOREVER && now - g_end > overrun) {
            char why[96];
            snprintf(why, sizeof why, "still running %lld s after the end of the run",
                     (long long)((now - g_end) / WEFT_SEC));
            watchdog_fire(why);
        }
    }
    pthread_mutex_unlock(&wd_mu);
    return NULL;
}

/* ---- the runtime's deadlock report --------------------------------------------
 * The runtime reports a deadlock only when no thread could wake a task (the
 * tool's plain threads step outside weft between operations, which keeps it
 * silent while they run), so a report is a failure: a real hang, or a false
 * verdict if the run goes on. */

static void on_deadlock(void *arg)
{
    (void)arg;
    stress_fail(NULL, __FILE__, __LINE__,
                "the runtime reported \"all tasks are asleep - deadlock!\"; dump:");
    pthread_mutex_lock(&out_mu);
    weft_dump_tasks(stderr);
    fflush(stderr);
    pthread_mutex_unlock(&out_mu);
}

/* ---- arguments ----------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft-stress [options]\n"
            "  --seed N          PRNG seed (default: time-based; always printed)\n"
            "  --duration S      seconds to run (default 5; fractions allowed)\n"
            "  --workers N       worker threads (default: the runtime's default)\n"
            "  --scale N         multiply task and value counts (default 1)\n"
            "  --only a,b,...    run only these scenarios (see --list)\n"
            "  --rounds N        at most N rounds per scenario (no default duration then)\n"
            "  --start-round N   begin at round N (replay one round: --start-round N --rounds 1)\n"
            "  --watchdog S      no progress for S seconds is a hang (default 30)\n"
            "  --no-threads      no plain-thread participants\n"
            "  --quiet           print only failures and the final line\n"
            "  --list            list the scenarios and exit\n"
            "environment: WEFT_STRESS_SEED and WEFT_STRESS_SCALE give defaults for\n"
            "--seed and --scale; WEFT_PROCS for the worker count (the runtime's)\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool enable_only(const char *list)
{
    for (int i = 0; i < NSCEN; i++)
        scenarios[i].enabled = false;
    char *dup = strdup(list);
    bool ok = true;
    for (char *save = NULL, *tok = strtok_r(dup, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (int i = 0; i < NSCEN; i++)
            if (strcmp(scenarios[i].name, tok) == 0) {
                scenarios[i].enabled = true;
                found = true;
            }
        if (!found) {
            fprintf(stderr, "weft-stress: unknown scenario '%s' (see --list)\n", tok);
            ok = false;
        }
    }
    free(dup);
    return ok;
}

static int parse_args(int argc, char **argv)
{
    enum { O_SEED = 256, O_DUR, O_WORK, O_SCALE, O_ONLY, O_ROUNDS, O_WD, O_START, O_NOTH, O_QUIET,
           O_LIST };
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, O_SEED},
        {"duration", required_argument, NULL, O_DUR},
        {"workers", required_argument, NULL, O_WORK},
        {"scale", required_argument, NULL, O_SCALE},
        {"only", required_argument, NULL, O_ONLY},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"watchdog", required_argument, NULL, O_WD},
        {"start-round", required_argument, NULL, O_START},
        {"no-threads", no_argument, NULL, O_NOTH},
        {"quiet", no_argument, NULL, O_QUIET},
        {"list", no_argument, NULL, O_LIST},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool have_seed = false, have_duration = false;
    /* The environment gives defaults, as for the other stress tests. */
    const char *env = getenv("WEFT_STRESS_SCALE");
    uint64_t v;
    if (env && *env) {
        if (!parse_u64(env, &v) || v < 1 || v > 1000) {
            fprintf(stderr, "weft-stress: bad WEFT_STRESS_SCALE '%s'\n", env);
            return 2;
        }
        g_opt.scale = (int)v;
    }
    env = getenv("WEFT_STRESS_SEED");
    if (env && *env) {
        if (!parse_u64(env, &g_opt.seed)) {
            fprintf(stderr, "weft-stress: bad WEFT_STRESS_SEED '%s'\n", env);
            return 2;
        }
        have_seed = true;
    }
    for (int i = 0; i < NSCEN; i++) {
        scenarios[i].id = i;
        scenarios[i].enabled = !scenarios[i].selftest;
    }
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_SEED:
            if (!parse_u64(optarg, &g_opt.seed))
                goto bad;
            have_seed = true;
            break;
        case O_DUR: {
            char *end;
            g_opt.duration = strtod(optarg, &end);
            if (end == optarg || *end || !(g_opt.duration >= 0) || g_opt.duration > 1e7)
                goto bad;
            have_duration = true;
            break;
        }
        case O_WORK:
            if (!parse_u64(optarg, &v) || v > 1024)
                goto bad;
            g_opt.workers = (int)v;
            break;
        case O_SCALE:
            if (!parse_u64(optarg, &v) || v < 1 || v > 1000)
                goto bad;
            g_opt.scale = (int)v;
            break;
        case O_ONLY:
            if (!enable_only(optarg))
                return 2;
            break;
        case O_ROUNDS:
            if (!parse_u64(optarg, &g_opt.rounds) || g_opt.rounds == 0)
                goto bad;
            break;
        case O_WD:
            if (!parse_u64(optarg, &v) || v < 1 || v > 86400)
                goto bad;
            g_opt.watchdog_s = (int)v;
            break;
        case O_START:
            if (!parse_u64(optarg, &g_opt.start_round))
                goto bad;
            break;
        case O_NOTH:
            g_opt.threads = 0;
            break;
        case O_QUIET:
            g_opt.quiet = true;
            break;
        case O_LIST:
            for (int i = 0; i < NSCEN; i++)
                printf("%-13s %s\n", scenarios[i].name, scenarios[i].what);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft-stress: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (g_opt.rounds && !have_duration)
        g_opt.duration = -1; /* rounds only */
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g_opt.seed = (mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
                      (uint64_t)getpid()) %
                     1000000000000ULL; /* short enough to type */
    }
    return 0;
bad:
    fprintf(stderr, "weft-stress: bad value for --%s: '%s'\n", longopts[opt - O_SEED].name,
            optarg);
    return 2;
}

/* ---- main ------------------------------------------------------------------ */

static struct weft_stats g_stats;
static bool g_have_stats;

static void print_summary(double secs, size_t tasks_start, size_t tasks_end, size_t leak,
                          int alive)
{
    printf("%-13s %8s %12s %12s %12s %7s\n", "scenario", "rounds", "ops", "ops/s", "checks",
           "failed");
    uint64_t tops = 0, tchecks = 0, tfailed = 0;
    for (int i = 0; i < NSCEN; i++) {
        struct scenario *sc = &scenarios[i];
        if (!sc->enabled)
            continue;
        uint64_t ops = atomic_load(&sc->ops), checks = atomic_load(&sc->checks),
                 failed = atomic_load(&sc->failed);
        double t = (double)(sc->t_stop - sc->t_start) / 1e9;
        printf("%-13s %8" PRIu64 " %12" PRIu64 " %12.0f %12" PRIu64 " %7" PRIu64, sc->name,
               sc->rounds_done, ops, t > 0 ? (double)ops / t : 0.0, checks, failed);
        int64_t late = atomic_load(&sc->max_late);
        if (late > 0)
            printf("   (max timer lateness %.3f ms)", (double)late / 1e6);
        printf("\n");
        tops += ops;
        tchecks += checks;
        tfailed += failed;
    }
    printf("%-13s %8s %12" PRIu64 " %12.0f %12" PRIu64 " %7" PRIu64 "\n", "total", "", tops,
           secs > 0 ? (double)tops / secs : 0.0, tchecks, tfailed);
    printf("live tasks: %zu at start, %zu at end%s\n", tasks_start, tasks_end,
           tasks_start == tasks_end ? "" : "  <-- FAIL");
    printf("leak check: %zu task%s left%s\n", leak, leak == 1 ? "" : "s",
           leak ? "  <-- FAIL" : "");
    printf("shutdown: %d task%s alive%s\n", alive, alive == 1 ? "" : "s",
           alive ? "  <-- FAIL" : "");
    const struct weft_stats st = g_stats;
    if (g_have_stats)
        printf("runtime: %" PRIu64 " spawned, %" PRIu64 " switches, %" PRIu64 " steals, %" PRIu64
               " workers\n",
               st.spawned, st.switches, st.steals, st.workers);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = parse_args(argc, argv);
    if (rc)
        return rc;
    int nenabled = 0;
    char names[256] = "";
    for (int i = 0; i < NSCEN; i++)
        if (scenarios[i].enabled) {
            nenabled++;
            if (names[0])
                strncat(names, ",", sizeof names - strlen(names) - 1);
            strncat(names, scenarios[i].name, sizeof names - strlen(names) - 1);
        }
    if (!nenabled) {
        fprintf(stderr, "weft-stress: no scenario selected\n");
        return 2;
    }
    struct weft_config cfg = {.workers = g_opt.workers};
    rc = weft_init(&cfg);
    if (rc) {
        fprintf(stderr, "weft-stress: weft_init failed: %s\n", strerror(rc));
        return 1;
    }
    char dur[64] = "", rounds[80] = "";
    if (g_opt.duration >= 0)
        snprintf(dur, sizeof dur, " --duration %g", g_opt.duration);
    if (g_opt.rounds)
        snprintf(rounds, sizeof rounds, " --rounds %" PRIu64, g_opt.rounds);
    if (g_opt.start_round)
        snprintf(rounds + strlen(rounds), sizeof rounds - strlen(rounds),
                 " --start-round %" PRIu64, g_opt.start_round);
    printf("weft-stress: --seed %" PRIu64 "%s --workers %d --scale %d --only %s%s%s\n", g_opt.seed,
           dur, g_opt.workers, g_opt.scale, names, rounds, g_opt.threads ? "" : " --no-threads");
    fflush(stdout);

    signal(SIGPIPE, SIG_IGN);
    weft_set_deadlock_hook(on_deadlock, NULL);
    size_t tasks_start = weft_num_tasks();
    uint64_t mark = weft_leak_mark();
    int64_t t0 = weft_now();
    g_end = g_opt.duration < 0 ? WEFT_FOREVER : t0 + (int64_t)(g_opt.duration * 1e9);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&wd_cv, &ca);
    pthread_t wd;
    if (pthread_create(&wd, NULL, watchdog, NULL) != 0) {
        fprintf(stderr, "weft-stress: cannot start the watchdog thread\n");
        return 1;
    }

    /* The drivers are tasks; this plain thread waits for them on a channel
     * (a blocking receive outside any task). */
    struct crew drivers;
    crew_init(&drivers, NSCEN);
    for (int i = 0; i < NSCEN; i++)
        if (scenarios[i].enabled) {
            static char names_buf[NSCEN][24];
            snprintf(names_buf[i], sizeof names_buf[i], "driver.%s", scenarios[i].name);
            crew_go(&drivers, names_buf[i], driver, &scenarios[i], false);
        }
    crew_wait(&drivers);
    double secs = (double)(weft_now() - t0) / 1e9;
    atomic_fetch_add(&harness_progress, 1);

    /* Tasks may still be between their last signal and their return. */
    size_t tasks_end;
    int64_t give_up = weft_deadline(10 * WEFT_SEC);
    while ((tasks_end = weft_num_tasks()) != tasks_start && weft_now() < give_up)
        weft_sleep(WEFT_MS);
    if (tasks_end != tasks_start) {
        fprintf(stderr, "weft-stress: %zu live tasks at the end, %zu at the start:\n", tasks_end,
                tasks_start);
        weft_dump_tasks(stderr);
    }
    atomic_fetch_add(&harness_progress, 1);
    size_t leak = weft_leak_check(mark, 5 * WEFT_SEC, stderr);
    atomic_fetch_add(&harness_progress, 1);
    g_have_stats = weft_stats(&g_stats) == 0;
    int alive = weft_shutdown();

    atomic_store(&finished, 1);
    pthread_mutex_lock(&wd_mu);
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
    pthread_join(wd, NULL);

    uint64_t failures = atomic_load(&harness_failures);
    for (int i = 0; i < NSCEN; i++)
        failures += atomic_load(&scenarios[i].failed);
    bool pass = failures == 0 && tasks_end == tasks_start && leak == 0 && alive == 0;
    if (!g_opt.quiet)
        print_summary(secs, tasks_start, tasks_end, leak, alive);
    printf("weft-stress: %s (--seed %" PRIu64 ", %.1f s, %" PRIu64 " failed check%s)\n",
           pass ? "PASS" : "FAIL", g_opt.seed, secs, failures, failures == 1 ? "" : "s");
    fflush(stdout);
    return pass ? 0 : 1;
}
