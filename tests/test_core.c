/* core/: status strings and messages, the PCG32 generator and its draws, temporary files. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

Test(status, strings_and_messages) {
    for (int s = 0; s < ORL_STATUS_COUNT; s++)
        cr_assert(strlen(orl_status_string((orl_status)s)) > 0);
    cr_assert_str_eq(orl_status_string(ORL_OK), "ok");
    cr_assert_str_eq(orl_status_string((orl_status)999), "unknown status");
    orl_status st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s'", "x.h5", "observations");
    cr_assert_eq(st, ORL_ERR_FORMAT);
    cr_assert_str_eq(orl_error_message(), "x.h5: key 'observations'");
    orl_error_clear();
    cr_assert_str_eq(orl_error_message(), "");
}

/* a message built from the previous message keeps the cause, however often it is wrapped */
Test(status, message_wraps_previous_message) {
    orl_error_set(ORL_ERR_NUMERIC, "loss is not finite");
    orl_status st = orl_error_set(ORL_ERR_NUMERIC, "%s: non-finite loss at step %lld: %s", "bc",
                                  7LL, orl_error_message());
    cr_assert_eq(st, ORL_ERR_NUMERIC);
    cr_assert_str_eq(orl_error_message(), "bc: non-finite loss at step 7: loss is not finite");
    orl_error_set(ORL_ERR_IO, "%s (while loading %s)", orl_error_message(), "p.h5");
    cr_assert_str_eq(orl_error_message(),
                     "bc: non-finite loss at step 7: loss is not finite (while loading p.h5)");
    /* an over-long message is truncated, not overrun, even when it repeats itself */
    char big[1500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    orl_error_set(ORL_ERR_INPUT, "%s", big);
    orl_error_set(ORL_ERR_INPUT, "%s%s", orl_error_message(), orl_error_message());
    cr_assert_eq(strlen(orl_error_message()), 1023);
}

static orl_status fails_then_forwards(int *reached) {
    ORL_TRY(orl_error_set(ORL_ERR_INPUT, "inner"));
    *reached = 1;
    return ORL_OK;
}

Test(status, try_forwards) {
    int reached = 0;
    cr_assert_eq(fails_then_forwards(&reached), ORL_ERR_INPUT);
    cr_assert_eq(reached, 0);
    cr_assert_str_eq(orl_error_message(), "inner");
}

/* the sequence printed by the reference pcg32-demo for pcg32_srandom_r(&rng, 42, 54) */
Test(rng, pcg32_reference_sequence) {
    static const uint32_t expected[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                        0x83d2f293, 0xbfa4784b, 0xcbed606e};
    orl_rng rng;
    orl_rng_seed(&rng, 42, 54);
    for (int i = 0; i < 6; i++) cr_assert_eq(orl_rng_u32(&rng), expected[i], "draw %d", i);
}

Test(rng, streams_differ_and_seeds_repeat) {
    orl_rng a, b, c;
    orl_rng_seed(&a, 7, 1);
    orl_rng_seed(&b, 7, 2);
    orl_rng_seed(&c, 7, 1);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = orl_rng_u32(&a);
        same += x == orl_rng_u32(&b);
        cr_assert_eq(x, orl_rng_u32(&c));
    }
    cr_assert_lt(same, 3);
}

Test(rng, uniform_moments) {
    orl_rng rng;
    orl_rng_seed(&rng, 1, 1);
    double sum = 0, sum2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = orl_rng_uniform(&rng);
        cr_assert(u >= 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* standard error of the mean is sqrt(1/12/n) = 6.5e-4 */
    cr_assert_lt(fabs(mean - 0.5), 0.004);
    cr_assert_lt(fabs(var - 1.0 / 12.0), 0.002);
}

Test(rng, normal_moments) {
    orl_rng rng;
    orl_rng_seed(&rng, 2, 3);
    double sum = 0, sum2 = 0, sum4 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = orl_rng_normal(&rng);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
    }
    cr_assert_lt(fabs(sum / n), 0.01);
    cr_assert_lt(fabs(sum2 / n - 1.0), 0.015);
    cr_assert_lt(fabs(sum4 / n - 3.0), 0.08); /* kurtosis of a normal */
}

/* the float normals of whole arrays: the moments of a normal, the double-precision Box-Muller
 * of the same draws within 4e-6, and a shorter fill is a prefix of a longer one (seed 5) */
Test(rng, normal_fill_matches_double_box_muller) {
    enum { N = 200001 };
    float *z = malloc(N * sizeof(float));
    cr_assert_not_null(z);
    orl_rng rng, copy;
    orl_rng_seed(&rng, 5, 7);
    copy = rng;
    orl_rng_normal_fill(&rng, z, N);
    double sum = 0, sum2 = 0, sum4 = 0, worst = 0;
    for (int i = 0; i < N; i += 2) {
        double u1 = (double)((orl_rng_u32(&copy) >> 8) + 1u) * 0x1.0p-24;
        double u2 = (double)(orl_rng_u32(&copy) >> 8) * 0x1.0p-24;
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
        double ref[2] = {r * cos(a), r * sin(a)};
        for (int k = 0; k < 2 && i + k < N; k++) {
            double d = fabs((double)z[i + k] - ref[k]);
            worst = d > worst ? d : worst;
            double v = z[i + k];
            sum += v, sum2 += v * v, sum4 += v * v * v * v;
        }
    }
    cr_assert_eq(rng.state, copy.state, "the fill draws two u32 per pair");
    cr_assert_lt(worst, 4e-6, "largest difference from double Box-Muller: %g", worst);
    cr_assert_lt(fabs(sum / N), 0.01);
    cr_assert_lt(fabs(sum2 / N - 1.0), 0.015);
    cr_assert_lt(fabs(sum4 / N - 3.0), 0.08);
    float head[37];
    orl_rng_seed(&rng, 5, 7);
    orl_rng_normal_fill(&rng, head, 37);
    for (int i = 0; i < 37; i++) cr_assert_eq(head[i], z[i], "value %d", i);
    free(z);
}

/* bound 3 * 2^30 rejects a quarter of the outputs; with a plain modulo the lowest third of the
 * range would be drawn twice as often as the rest */
Test(rng, below_has_no_modulo_bias) {
    orl_rng rng;
    orl_rng_seed(&rng, 11, 5);
    uint32_t bound = 3u << 30;
    int n = 300000, low = 0;
    for (int i = 0; i < n; i++) {
        uint32_t x = orl_rng_below(&rng, bound);
        cr_assert_lt(x, bound);
        low += x < (1u << 30);
    }
    /* unbiased: P(low) = 1/3; modulo-biased: 1/2 */
    cr_assert_lt(fabs((double)low / n - 1.0 / 3.0), 0.005);
}

Test(rng, range_inclusive_and_uniform) {
    orl_rng rng;
    orl_rng_seed(&rng, 3, 3);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        int64_t x = orl_rng_range(&rng, -3, 3);
        cr_assert(x >= -3 && x <= 3);
        counts[x + 3]++;
    }
    for (int i = 0; i < 7; i++)
        cr_assert_lt(abs(counts[i] - 10000), 400, "value %d: %d", i - 3, counts[i]);
    int64_t big = orl_rng_range(&rng, INT64_MIN, INT64_MAX);
    (void)big;
    for (int i = 0; i < 1000; i++) {
        int64_t y = orl_rng_range(&rng, 0, (int64_t)1 << 40);
        cr_assert(y >= 0 && y <= (int64_t)1 << 40);
    }
}

Test(rng, categorical_frequencies) {
    orl_rng rng;
    orl_rng_seed(&rng, 4, 4);
    double p[4] = {0.1, 0.0, 0.6, 0.3};
    int counts[4] = {0}, n = 100000;
    for (int i = 0; i < n; i++) counts[orl_rng_categorical(&rng, p, 4)]++;
    cr_assert_eq(counts[1], 0);
    for (int i = 0; i < 4; i++) cr_assert_lt(fabs((double)counts[i] / n - p[i]), 0.006);
}

Test(fs, temp_name_commit_and_remove) {
    const char *dir = ORL_BINARY_DIR "/tmp-core";
    orl_fs_remove(dir);
    char path[512], tmp[512];
    snprintf(path, sizeof path, "%s", dir);
    cr_assert_eq(orl_fs_temp_name(ORL_BINARY_DIR "/tmp-core/out.h5", tmp, sizeof tmp), ORL_OK);
    cr_assert(strstr(tmp, "/tmp-core/.out.h5.tmp-") != NULL, "%s", tmp);
    cr_assert_eq(orl_fs_exists(path), 0);
    FILE *f = fopen(ORL_BINARY_DIR "/tmp-core-file", "w");
    fputs("abc", f);
    fclose(f);
    cr_assert_eq(orl_fs_size(ORL_BINARY_DIR "/tmp-core-file"), 3);
    cr_assert_eq(orl_fs_commit(ORL_BINARY_DIR "/tmp-core-file", ORL_BINARY_DIR "/tmp-core-final"),
                 ORL_OK);
    cr_assert_eq(orl_fs_exists(ORL_BINARY_DIR "/tmp-core-file"), 0);
    cr_assert_eq(orl_fs_size(ORL_BINARY_DIR "/tmp-core-final"), 3);
    orl_fs_remove(ORL_BINARY_DIR "/tmp-core-final");
    cr_assert_eq(orl_fs_exists(ORL_BINARY_DIR "/tmp-core-final"), 0);
    cr_assert_eq(orl_fs_commit(ORL_BINARY_DIR "/no-such", ORL_BINARY_DIR "/x"), ORL_ERR_IO);
}

/* a pid that no process has: a child that has exited and been reaped */
static long dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fclose(f);
}

Test(fs, temp_name_removes_what_a_killed_writer_left) {
    const char *dir = ORL_BINARY_DIR "/tmp-stale";
    orl_fs_remove(dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    char tmp[512], host[300], stale[4][600], keep[4][600];
    cr_assert_eq(orl_fs_temp_name(ORL_BINARY_DIR "/tmp-stale/out.sqlite", tmp, sizeof tmp), ORL_OK);
    /* the name is ".out.sqlite.tmp-HOST-PID-N": take HOST from it */
    const char *h = strstr(tmp, ".tmp-") + 5;
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(tmp, '-') - h), h);
    *strrchr(host, '-') = '\0';
    long dead = dead_pid();
    snprintf(stale[0], sizeof stale[0], "%s/.out.sqlite.tmp-%s-%ld-0", dir, host, dead);
    snprintf(stale[1], sizeof stale[1], "%s/.out.sqlite.tmp-%s-%ld-0-wal", dir, host, dead);
    snprintf(stale[2], sizeof stale[2], "%s/.out.sqlite.tmp-%s-%ld-3-journal", dir, host, dead);
    snprintf(stale[3], sizeof stale[3], "%s/.out.sqlite.tmp-%s-%ld-1", dir, host, dead); /* dir */
    snprintf(keep[0], sizeof keep[0], "%s/.out.sqlite.tmp-%s-%ld-0", dir, host, (long)getppid());
    snprintf(keep[1], sizeof keep[1], "%s/.out.sqlite.tmp-otherhost-%ld-0", dir, dead);
    snprintf(keep[2], sizeof keep[2], "%s/.other.sqlite.tmp-%s-%ld-0", dir, host, dead);
    snprintf(keep[3], sizeof keep[3], "%s/out.sqlite", dir);
    for (int i = 0; i < 3; i++) touch(stale[i]);
    cr_assert_eq(mkdir(stale[3], 0755), 0);
    char inner[700];
    snprintf(inner, sizeof inner, "%s/data", stale[3]);
    touch(inner);
    for (int i = 0; i < 4; i++) touch(keep[i]);
    cr_assert_eq(orl_fs_temp_name(ORL_BINARY_DIR "/tmp-stale/out.sqlite", tmp, sizeof tmp), ORL_OK);
    for (int i = 0; i < 4; i++) cr_assert_eq(orl_fs_exists(stale[i]), 0, "%s", stale[i]);
    for (int i = 0; i < 4; i++) cr_assert_eq(orl_fs_exists(keep[i]), 1, "%s", keep[i]);
    orl_fs_remove(dir);
}

static int cancel_at_5(void *ctx, int64_t done, int64_t total, const char *what) {
    (void)ctx, (void)total, (void)what;
    return done >= 5;
}

Test(progress, cancel_is_interrupted) {
    orl_progress p = {cancel_at_5, NULL};
    cr_assert_eq(orl_progress_report(&p, 4, 10, "rows"), ORL_OK);
    cr_assert_eq(orl_progress_report(&p, 5, 10, "rows"), ORL_ERR_INTERRUPTED);
    cr_assert_eq(orl_progress_report(NULL, 5, 10, "rows"), ORL_OK);
}
