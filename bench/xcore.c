/* Measures what it costs one core to read data another core just wrote,
 * which bounds how well batch-1 inference scales on 2 threads: each layer
 * hands its output to the next, and whatever part a thread did not write
 * itself crosses between cores. Two threads (pinned to CPUs 0 and 1 when
 * the machine lets us) take turns:
 *   - round trip: one writes a flag, the other answers (ns per exchange);
 *   - remote read: thread A writes a 64 KiB buffer, thread B sums it
 *     (GB/s), against B summing a buffer it wrote itself (local GB/s).
 * Prints {"round_trip_ns", "remote_read_gbs", "local_read_gbs", "ratio"}
 * (ratio = local / remote), medians of 15 rounds. Built and run by
 * bench/runtime_bench.sh, whose JSON records it next to the 2-thread
 * figures. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BYTES (64 << 10)
#define ROUNDS 15
#define PINGS 2000
#define READS 200

static _Alignas(64) atomic_int turn;  /* whose move: 0 main, 1 helper */
static _Alignas(64) atomic_int phase; /* what the helper does next */
static _Alignas(64) unsigned char buf[2][BYTES];
static volatile uint64_t sink;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    (void)pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

/* Eight independent sums (one 64-byte line per step): the loads, not an
 * add chain, set the pace. */
static uint64_t sum(const unsigned char *b)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    const uint64_t *w = (const uint64_t *)b;
    for (size_t i = 0; i < BYTES / 8; i += 8) {
        s0 += w[i], s1 += w[i + 1], s2 += w[i + 2], s3 += w[i + 3];
        s4 += w[i + 4], s5 += w[i + 5], s6 += w[i + 6], s7 += w[i + 7];
    }
    return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

static void fill(unsigned char *b, int v) { memset(b, v, BYTES); }

/* helper: phase 1 ping-pong, phase 2 write buf[0] on request, 3 stop */
static void *helper(void *arg)
{
    (void)arg;
    pin(1);
    for (int v = 1;; v++) {
        while (atomic_load(&turn) != 1)
            ;
        int ph = atomic_load(&phase);
        if (ph == 3)
            break;
        if (ph == 2)
            fill(buf[0], v & 0x7F);
        atomic_store(&turn, 0);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    pthread_t th;
    double rt[ROUNDS], rem[ROUNDS], loc[ROUNDS];
    pin(0);
    if (pthread_create(&th, NULL, helper, NULL) != 0)
        return 1;
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&phase, 1);
        double t0 = now();
        for (int i = 0; i < PINGS; i++) {
            atomic_store(&turn, 1);
            while (atomic_load(&turn) != 0)
                ;
        }
        rt[r] = (now() - t0) / PINGS * 1e9;
        /* remote: the helper writes, we read (its write time excluded) */
        double tr = 0, tl = 0;
        atomic_store(&phase, 2);
        for (int i = 0; i < READS; i++) {
            atomic_store(&turn, 1);
            while (atomic_load(&turn) != 0)
                ;
            t0 = now();
            sink += sum(buf[0]);
            tr += now() - t0;
            fill(buf[1], i & 0x7F); /* local: we write, we read */
            t0 = now();
            sink += sum(buf[1]);
            tl += now() - t0;
        }
        rem[r] = (double)BYTES * READS / tr * 1e-9;
        loc[r] = (double)BYTES * READS / tl * 1e-9;
    }
    atomic_store(&phase, 3);
    atomic_store(&turn, 1);
    pthread_join(th, NULL);
    qsort(rt, ROUNDS, sizeof *rt, cmp);
    qsort(rem, ROUNDS, sizeof *rem, cmp);
    qsort(loc, ROUNDS, sizeof *loc, cmp);
    printf("{\"round_trip_ns\": %.0f, \"remote_read_gbs\": %.1f, "
           "\"local_read_gbs\": %.1f, \"ratio\": %.1f}\n",
           rt[ROUNDS / 2], rem[ROUNDS / 2], loc[ROUNDS / 2],
           loc[ROUNDS / 2] / rem[ROUNDS / 2]);
    return (int)(sink & 0);
}
