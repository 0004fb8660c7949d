/*
 * topology.c — hwloc: how many workers, which CPUs, who steals from whom.
 *
 * Workers default to the CPUs this process may run on (the affinity mask,
 * as hwloc reports the process binding), so `taskset -c 0 prog` gets one
 * worker.  Victims for stealing are ordered by how much cache they share
 * with the thief: the deeper their common ancestor in the topology tree,
 * the earlier they are tried.
 */
#include <hwloc.h>
#include <string.h>

#include "worker.h"

static hwloc_topology_t topo;
static bool topo_ok;
static pthread_mutex_t topo_mu = PTHREAD_MUTEX_INITIALIZER;

static bool topo_load(void)
{
    pthread_mutex_lock(&topo_mu);
    if (!topo_ok) {
        if (hwloc_topology_init(&topo) == 0) {
            if (hwloc_topology_load(topo) == 0)
                topo_ok = true;
            else
                hwloc_topology_destroy(topo);
        }
    }
    pthread_mutex_unlock(&topo_mu);
    return topo_ok;
}

int weft__topology_workers(int *cpus, int max)
{
    if (!topo_load())
        return 0;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return 0;
    if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
        hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(topo));
    hwloc_bitmap_and(set, set, hwloc_topology_get_allowed_cpuset(topo));
    int n = 0;
    unsigned idx;
    hwloc_bitmap_foreach_begin(idx, set)
    {
        if (n < max)
            cpus[n++] = (int)idx;
    }
    hwloc_bitmap_foreach_end();
    hwloc_bitmap_free(set);
    return n;
}

int weft__topology_pin(int cpu)
{
    if (!topo_load() || cpu < 0)
        return -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return -1;
    hwloc_bitmap_only(set, (unsigned)cpu);
    int r = hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
    return r;
}

/* Depth of the deepest object containing both CPUs (-1 if unknown). */
static int shared_depth(int a, int b)
{
    if (!topo_ok || a < 0 || b < 0)
        return -1;
    hwloc_obj_t pa = hwloc_get_pu_obj_by_os_index(topo, (unsigned)a);
    hwloc_obj_t pb = hwloc_get_pu_obj_by_os_index(topo, (unsigned)b);
    if (!pa || !pb)
        return -1;
    if (pa == pb)
        return pa->depth;
    hwloc_obj_t c = hwloc_get_common_ancestor_obj(topo, pa, pb);
    return c ? c->depth : -1;
}

int weft__topology_steal_order(weft__worker **ws, int n)
{
    topo_load();
    for (int i = 0; i < n; i++) {
        weft__worker *w = ws[i];
        int m = n > 1 ? n - 1 : 1;
        w->steal_order = weft__calloc((size_t)m, sizeof(int));
        if (!w->steal_order)
            return -1;
        int k = 0;
        for (int j = 0; j < n; j++)
            if (j != i)
                w->steal_order[k++] = j;
        /* Insertion sort by decreasing shared depth: nearest first. */
        for (int a = 1; a < k; a++) {
            int v = w->steal_order[a];
            int dv = shared_depth(w->cpu, ws[v]->cpu);
            int b = a - 1;
            while (b >= 0 && shared_depth(w->cpu, ws[w->steal_order[b]]->cpu) < dv) {
                w->steal_order[b + 1] = w->steal_order[b];
                b--;
            }
            w->steal_order[b + 1] = v;
        }
        w->steal_n = k;
        /* Victims as near as the nearest: stealing starts at a random one
         * of them, so thieves do not all hit the same victim first. */
        int d0 = k ? shared_depth(w->cpu, ws[w->steal_order[0]]->cpu) : 0;
        w->steal_near = 0;
        while (w->steal_near < k &&
               shared_depth(w->cpu, ws[w->steal_order[w->steal_near]]->cpu) == d0)
            w->steal_near++;
    }
    return 0;
}
