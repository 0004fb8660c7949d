/*
 * stress_spawn.c — the "spawn" scenario.
 *
 * A round spawns a tree of tasks (random size and fan-out); every node
 * spawns its children with weft_go, weft_go_copy (the copy carries a
 * pattern the child verifies) or weft_go_opts (a name and a random stack
 * size), touches its stack, yields or sleeps, and the last node to finish
 * signals the driver.  Sometimes plain threads spawn extra flat tasks at
 * the same time.
 *
 * Invariants: every node runs exactly once; go_copy's copy is intact and
 * distinct from the spawner's object; task ids are non-zero and distinct,
 * weft_self() is 0 on a plain thread; weft_num_tasks() counts at least the
 * caller; a sleep lasts at least its duration.
 */
#include "stress.h"

struct sp_round;

struct sp_node {
    struct sp_round *rd;
    int idx;
};

struct sp_copy {
    struct sp_round *rd;
    int idx;
    uint64_t pattern[6];
};

struct sp_round {
    struct scenario *sc;
    int total;                 /* tree nodes */
    int fanout;
    int flat;                  /* extra tasks spawned from plain threads */
    uint64_t rseed;
    struct sp_node *nodes;
    atomic_uchar *ran;         /* [total + flat] */
    uint64_t *ids;             /* [total + flat] */
    atomic_int remaining;
    weft_chan *done;           /* cap 1: the last task to finish signals */
};

static const char *const task_names[] = {"spawn.a", "spawn.b", "spawn.c"};

static void node_body(struct sp_round *rd, int idx);

static void node_go(void *arg)
{
    struct sp_node *n = arg;
    node_body(n->rd, n->idx);
}

static void node_copy(void *arg)
{
    struct sp_copy *c = arg;
    struct scenario *sc = c->rd->sc;
    for (int i = 0; i < 6; i++)
        CHECK(sc, c->pattern[i] == seed_of(c->rd->rseed, (uint64_t)c->idx * 8 + i),
              "go_copy: word %d of node %d's copy is wrong", i, c->idx);
    /* The copy is the task's own: scribbling on it hurts nobody. */
    memset(c->pattern, 0xee, sizeof c->pattern);
    node_body(c->rd, c->idx);
}

static void finish(struct sp_round *rd)
{
    if (atomic_fetch_sub(&rd->remaining, 1) == 1)
        CHECK(rd->sc, weft_chan_send(rd->done, NULL) == 0, "done signal failed");
}

static void spawn_child(struct sp_round *rd, struct rng *r, int child)
{
    struct scenario *sc = rd->sc;
    int rc;
    switch (rng_below(r, 3)) {
    case 0:
        rc = weft_go(node_go, &rd->nodes[child]);
        break;
    case 1: {
        struct sp_copy c = {.rd = rd, .idx = child};
        for (int i = 0; i < 6; i++)
            c.pattern[i] = seed_of(rd->rseed, (uint64_t)child * 8 + i);
        rc = weft_go_copy(node_copy, &c, sizeof c);
        memset(&c, 0, sizeof c); /* the child has its own copy */
        break;
    }
    default: {
        static const size_t stacks[] = {0, 32 * 1024, 128 * 1024, 1024 * 1024};
        struct weft_task_opts o = {.name = task_names[rng_below(r, 3)],
                                   .stack_size = stacks[rng_below(r, 4)]};
        if (rng_chance(r, 1, 8))
            rc = weft_go_opts(NULL, node_go, &rd->nodes[child]);
        else
            rc = weft_go_opts(&o, node_go, &rd->nodes[child]);
        break;
    }
    }
    CHECK(sc, rc == 0, "spawn of node %d failed: %d", child, rc);
    if (rc != 0)
        node_body(rd, child); /* keep the accounting whole */
    else
        OPS(sc, 1);
}

static void node_body(struct sp_round *rd, int idx)
{
    struct scenario *sc = rd->sc;
    struct rng r = {seed_of(rd->rseed, (uint64_t)idx)};
    unsigned prev = atomic_fetch_add(&rd->ran[idx], 1);
    CHECK(sc, prev == 0, "node %d ran %u times", idx, prev + 1);
    uint64_t self = weft_self();
    CHECK(sc, self != 0, "weft_self() is 0 inside a task");
    rd->ids[idx] = self;
    CHECK(sc, weft_num_tasks() >= 1, "weft_num_tasks() is 0 inside a spawned task");
    volatile char stack[2048];
    for (size_t i = 0; i < sizeof stack; i += 64)
        stack[i] = (char)i;
    switch (rng_below(&r, 6)) {
    case 0:
        weft_yield();
        break;
    case 1: {
        int64_t d = rng_range(&r, 0, 200) * WEFT_US;
        int64_t t0 = weft_now();
        CHECK(sc, weft_sleep(d) == 0, "weft_sleep did not return 0");
        int64_t took = weft_now() - t0;
        CHECK(sc, took >= d, "weft_sleep(%lld ns) returned after %lld ns", (long long)d,
              (long long)took);
        LATE(sc, took - d);
        break;
    }
    default:
        break;
    }
    if (idx < rd->total)
        for (int j = 1; j <= rd->fanout; j++) {
            int child = idx * rd->fanout + j;
            if (child >= rd->total)
                break;
            spawn_child(rd, &r, child);
            if (rng_chance(&r, 1, 16))
                weft_yield();
        }
    for (size_t i = 0; i < sizeof stack; i += 64)
        CHECK(sc, stack[i] == (char)i, "stack byte %zu changed under the task", i);
    finish(rd);
}

struct sp_thread {
    struct sp_round *rd;
    int first, count;
};

static void flat_task(void *arg)
{
    struct sp_node *n = arg;
    node_body(n->rd, n->idx);
}

static void *spawner_thread(void *arg)
{
    struct sp_thread *t = arg;
    struct sp_round *rd = t->rd;
    CHECK(rd->sc, weft_self() == 0, "weft_self() is %" PRIu64 " on a plain thread", weft_self());
    for (int i = 0; i < t->count; i++) {
        int idx = t->first + i;
        int rc = (i & 1) ? weft_go(flat_task, &rd->nodes[idx])
                         : weft_go_copy(flat_task, &rd->nodes[idx], sizeof rd->nodes[idx]);
        CHECK(rd->sc, rc == 0, "spawn from a thread failed: %d", rc);
        if (rc)
            node_body(rd, idx);
        else
            OPS(rd->sc, 1);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void sc_spawn_round(struct scenario *sc, struct rng *r)
{
    struct sp_round rd = {.sc = sc, .rseed = rng_next(r)};
    rd.total = (int)rng_range(r, 1, 1 + (int64_t)rng_below(r, (uint64_t)SCALE(1500)));
    rd.fanout = (int)rng_range(r, 1, 8);
    int nthreads = g_opt.threads && rng_chance(r, 1, 4) ? (int)rng_range(r, 1, 2) : 0;
    rd.flat = nthreads ? (int)rng_range(r, 1, SCALE(100)) : 0;
    int all = rd.total + rd.flat;
    rd.nodes = calloc((size_t)all, sizeof *rd.nodes);
    rd.ran = calloc((size_t)all, sizeof *rd.ran);
    rd.ids = calloc((size_t)all, sizeof *rd.ids);
    rd.done = weft_chan_make(0, 1);
    if (!rd.nodes || !rd.ran || !rd.ids || !rd.done)
        abort();
    for (int i = 0; i < all; i++)
        rd.nodes[i] = (struct sp_node){&rd, i};
    atomic_store(&rd.remaining, all);

    PHASE(sc, "spawn: run");
    pthread_t th[2];
    struct sp_thread ta[2];
    int per = nthreads ? rd.flat / nthreads : 0;
    for (int i = 0; i < nthreads; i++) {
        ta[i] = (struct sp_thread){&rd, rd.total + i * per,
                                   i == nthreads - 1 ? rd.flat - i * per : per};
        if (pthread_create(&th[i], NULL, spawner_thread, &ta[i]) != 0) {
            spawner_thread(&ta[i]);
            th[i] = 0;
        }
    }
    spawn_child(&rd, r, 0);
    CHECK(sc, weft_chan_recv(rd.done, NULL) == 0, "waiting for the tree failed");
    for (int i = 0; i < nthreads; i++)
        if (th[i])
            pthread_join(th[i], NULL);

    PHASE(sc, "spawn: verify");
    int bad = 0;
    for (int i = 0; i < all; i++)
        if (atomic_load(&rd.ran[i]) != 1 && bad++ < 3)
            CHECK(sc, false, "node %d ran %u times", i, (unsigned)atomic_load(&rd.ran[i]));
    CHECK(sc, bad == 0, "%d of %d nodes did not run exactly once", bad, all);
    qsort(rd.ids, (size_t)all, sizeof *rd.ids, cmp_u64);
    for (int i = 1; i < all; i++)
        if (rd.ids[i] == rd.ids[i - 1]) {
            CHECK(sc, false, "task id %" PRIu64 " given to two tasks", rd.ids[i]);
            break;
        }
    weft_chan_release(rd.done);
    free(rd.nodes);
    free(rd.ran);
    free(rd.ids);
}
