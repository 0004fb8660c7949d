/*
 * group.c — tasks in the same situation, grouped for dumps and leak reports
 * (Go's pprof goroutine?debug=1: "100 tasks @ ...").
 *
 * Two snapshots are in one group when everything a dump prints about them
 * is the same except their ids, how long they have waited and the
 * addresses of what they wait on: name, entry function and spawn site,
 * state and wait reason, the creation site and shape of each channel they
 * wait on, the blocking call site and every frame of the stack.  A thousand
 * tasks leaked by the same loop, each on a channel of its own, are one
 * group.  Groups come out largest first, ties by lowest id; members of a
 * group in id order (the input is sorted by id).
 */
#include <errno.h>
#include <string.h>

#include "diag.h"

static uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t key_hash(const struct weft__diag_task *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s->name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    /* Spawn sites are string literals: one site, one pointer. */
    h = mix(h, (uintptr_t)s->fn_name);
    h = mix(h, (uintptr_t)s->file);
    h = mix(h, (uint64_t)s->line);
    h = mix(h, (uint64_t)s->state << 8 | (uint64_t)s->reason);
    h = mix(h, s->wait_pc);
    for (unsigned i = 0; i < s->nchans; i++)
        h = mix(h, (uintptr_t)s->chans[i].file ^ (uint64_t)s->chans[i].line << 32);
    for (unsigned i = 0; i < s->bt.n; i++)
        h = mix(h, s->bt.pc[i]);
    return h;
}

static bool same_chan(const struct weft__diag_chan *a, const struct weft__diag_chan *b)
{
    return a->file == b->file && a->line == b->line && a->cap == b->cap &&
           a->elemsize == b->elemsize && a->len == b->len && a->closed == b->closed &&
           a->orphaned == b->orphaned;
}

static bool same_key(const struct weft__diag_task *a, const struct weft__diag_task *b)
{
    if (strcmp(a->name, b->name) || a->fn_name != b->fn_name || a->file != b->file ||
        a->func != b->func || a->line != b->line || a->state != b->state ||
        a->counted != b->counted || a->is_main != b->is_main)
        return false;
    if (a->state != WEFT__TASK_PARKED)
        return true;
    if (a->reason != b->reason || a->wait_pc != b->wait_pc || a->nchans != b->nchans ||
        a->more_chans != b->more_chans || (a->obj == NULL) != (b->obj == NULL))
        return false;
    for (unsigned i = 0; i < a->nchans; i++)
        if (!same_chan(&a->chans[i], &b->chans[i]))
            return false;
    const struct weft__bt *x = &a->bt, *y = &b->bt;
    if (x->site_in_entry != y->site_in_entry || (x->site_in_entry && a->entry != b->entry))
        return false;
    return x->state == y->state && x->n == y->n && x->truncated == y->truncated &&
           x->from_site == y->from_site && !memcmp(x->pc, y->pc, x->n * sizeof x->pc[0]);
}

struct order {
    size_t count;
    uint64_t id;
    size_t head;
};

static int by_size_then_id(const void *pa, const void *pb)
{
    const struct order *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int weft__diag_group(const struct weft__diag_task *v, size_t n, struct weft__diag_groups *g)
{
    memset(g, 0, sizeof *g);
    if (!n)
        return 0;
    size_t nslot = 16;
    while (nslot < 2 * n)
        nslot *= 2;
    size_t *slot = weft__calloc(nslot, sizeof *slot); /* head index + 1 */
    size_t *tail = weft__malloc(n * sizeof *tail);
    g->next = weft__malloc(n * sizeof *g->next);
    g->count = weft__calloc(n, sizeof *g->count);
    g->heads = weft__malloc(n * sizeof *g->heads);
    if (!slot || !tail || !g->next || !g->count || !g->heads) {
        weft__free(slot);
        weft__free(tail);
        weft__diag_groups_free(g);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        g->next[i] = SIZE_MAX;
        size_t h = (size_t)key_hash(&v[i]) & (nslot - 1);
        for (;; h = (h + 1) & (nslot - 1)) {
            if (!slot[h]) {
                slot[h] = i + 1;
                g->heads[g->ngroups++] = i;
                g->count[i] = 1;
                tail[i] = i;
                break;
            }
            size_t head = slot[h] - 1;
            if (same_key(&v[head], &v[i])) {
                g->next[tail[head]] = i;
                tail[head] = i;
                g->count[head]++;
                break;
            }
        }
    }
    weft__free(slot);
    weft__free(tail);
    struct order *o = weft__malloc(g->ngroups * sizeof *o);
    if (!o) {
        weft__diag_groups_free(g);
        return ENOMEM;
    }
    for (size_t k = 0; k < g->ngroups; k++)
        o[k] = (struct order){g->count[g->heads[k]], v[g->heads[k]].id, g->heads[k]};
    qsort(o, g->ngroups, sizeof *o, by_size_then_id);
    for (size_t k = 0; k < g->ngroups; k++)
        g->heads[k] = o[k].head;
    weft__free(o);
    return 0;
}

void weft__diag_groups_free(struct weft__diag_groups *g)
{
    weft__free(g->next);
    weft__free(g->count);
    weft__free(g->heads);
    memset(g, 0, sizeof *g);
}
