/* ring: 1000 tasks in a ring of unbuffered channels pass a countdown token;
 * ns per hop.  Task k receives on ch[k] and sends t-1 on ch[k+1]; the one
 * that receives 0 reports its index to main.  Then main closes ch[0] and the
 * close cascades round the ring (task N-1 does not close ch[0] again).
 * Go twin: go/main.go ring. */
#include "bench_common.h"

enum { N = 1000 };

struct ring {
    weft_chan *ch[N];
    weft_chan *done;
    weft_wg wg;
};

struct member {
    struct ring *r;
    int k;
};

static void member(void *arg)
{
    struct member *m = arg;
    struct ring *r = m->r;
    weft_chan *in = r->ch[m->k], *out = r->ch[(m->k + 1) % N];
    for (;;) {
        int64_t t;
        int rc = weft_chan_recv(in, &t);
        if (rc == EPIPE) {
            if (m->k != N - 1)
                BENCH_CHECK(weft_chan_close(out));
            break;
        }
        BENCH_CHECK(rc);
        if (t == 0) {
            int64_t k = m->k;
            BENCH_CHECK(weft_chan_send(r->done, &k));
        } else {
            t--;
            BENCH_CHECK(weft_chan_send(out, &t));
        }
    }
    BENCH_CHECK(weft_wg_done(&r->wg));
}

static int run(void *arg)
{
    struct bench *b = arg;
    static struct ring r = {.wg = WEFT_WG_INIT};
    for (int k = 0; k < N; k++)
        BENCH_CHECK_PTR(r.ch[k] = weft_chan_make(sizeof(int64_t), 0));
    BENCH_CHECK_PTR(r.done = weft_chan_make(sizeof(int64_t), 0));
    for (int k = 0; k < N; k++) {
        BENCH_CHECK(weft_wg_add(&r.wg, 1));
        struct member m = {&r, k};
        BENCH_CHECK(weft_go_copy(member, &m, sizeof m));
    }
    int64_t t0 = weft_now(), k;
    BENCH_CHECK(weft_chan_send(r.ch[0], &b->n));
    BENCH_CHECK(weft_chan_recv(r.done, &k));
    b->value = bench_ns_per(t0, b->n);
    b->ops = b->n;
    if (k != b->n % N)
        bench_fail("ring: token ended at task %lld, want %lld", (long long)k, (long long)(b->n % N));
    BENCH_CHECK(weft_chan_close(r.ch[0]));
    BENCH_CHECK(weft_wg_wait(&r.wg));
    for (int i = 0; i < N; i++)
        weft_chan_release(r.ch[i]);
    weft_chan_release(r.done);
    return 0;
}

int main(int argc, char **argv)
{
    struct bench b = {.name = "ring", .unit = "ns/op", .n = 1000000};
    return bench_main(argc, argv, &b, run);
}
