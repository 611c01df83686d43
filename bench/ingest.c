/* bench/ingest: CSV ingest throughput and peak memory.
 *
 * Writes a robot log of N rows (default 1,000,000): episode, timestamp, 17 observation
 * columns (7 joint positions, 7 joint velocities, 3 end-effector coordinates), 6 action
 * columns, reward, done, formatted as a logger writes them (fixed decimals, 8 places; epoch
 * timestamps with microseconds). Then ingests it into HDF5 and into SQLite, each in a forked
 * child so that the child's peak resident memory (wait4) is the ingest's alone, and prints
 * one JSON object per target:
 *   {"bench":"ingest","target":"hdf5","rows":1000000,"csv_mb":...,"seconds":...,
 *    "mb_per_s":...,"rows_per_s":...,"peak_rss_mb":...}
 * MB are 10^6 bytes. The "parse" target reads the log into blocks and discards them: the
 * parser alone.
 *
 * usage: ingest [--rows N] [--dir DIR] [--keep] [--targets hdf5,sqlite,parse] [--log CSV]
 *               [--block-rows N]
 * (--log measures an existing log with these columns instead of writing one, e.g. for perf;
 * --block-rows sets orl_ingest_options.block_rows, the rows handed to the writer at a time) */
#define _DEFAULT_SOURCE
#include "orl/orl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_JOINTS     7
#define N_ACT        6
#define EPISODE_ROWS 1000

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* v with the given number of decimals, as printf("%.*f") would for these magnitudes */
static char *put_fixed(char *p, double v, int decimals) {
    static const double scale[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    int64_t x = (int64_t)llround(v * scale[decimals]);
    if (x < 0) {
        *p++ = '-';
        x = -x;
    }
    char digits[24];
    int n = 0;
    for (; n <= decimals || x > 0; n++) {
        digits[n] = (char)('0' + x % 10);
        x /= 10;
    }
    for (int i = n - 1; i >= 0; i--) {
        *p++ = digits[i];
        if (i == decimals && decimals > 0) *p++ = '.';
    }
    return p;
}

static char *put_int(char *p, int64_t v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) *p++ = digits[--n];
    return p;
}

/* writes the log; returns its size in bytes, or -1 */
static int64_t generate(const char *path, int64_t rows) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "episode,timestamp");
    for (int j = 0; j < N_JOINTS; j++) fprintf(f, ",joint_pos_%d", j);
    for (int j = 0; j < N_JOINTS; j++) fprintf(f, ",joint_vel_%d", j);
    fprintf(f, ",ee_x,ee_y,ee_z");
    for (int j = 0; j < N_ACT; j++) fprintf(f, ",cmd_%d", j);
    fprintf(f, ",reward,done\n");

    orl_rng rng;
    orl_rng_seed(&rng, 7, 11);
    size_t cap = 1 << 20;
    char *buf = malloc(cap), *p = buf;
    double phase[N_JOINTS], freq[N_JOINTS];
    for (int64_t i = 0; i < rows; i++) {
        int64_t ep = i / EPISODE_ROWS, t = i % EPISODE_ROWS;
        if (t == 0)
            for (int j = 0; j < N_JOINTS; j++) {
                phase[j] = 6.283 * orl_rng_uniform(&rng);
                freq[j] = 0.5 + 2.0 * orl_rng_uniform(&rng);
            }
        double time = 0.01 * (double)t;
        p = put_int(p, ep);
        *p++ = ',';
        p = put_fixed(p, 1718000000.0 + 12.0 * (double)ep + time, 6);
        double q[N_JOINTS];
        for (int j = 0; j < N_JOINTS; j++) {
            q[j] = 1.7 * sin(freq[j] * time + phase[j]) + 0.001 * orl_rng_normal(&rng);
            *p++ = ',';
            p = put_fixed(p, q[j], 8);
        }
        for (int j = 0; j < N_JOINTS; j++) {
            *p++ = ',';
            p = put_fixed(
                p, 1.7 * freq[j] * cos(freq[j] * time + phase[j]) + 0.01 * orl_rng_normal(&rng), 8);
        }
        double ee[3] = {0.4 + 0.2 * sin(q[0]), 0.1 * cos(q[1]), 0.3 + 0.25 * sin(q[2] + q[3])};
        for (int k = 0; k < 3; k++) {
            *p++ = ',';
            p = put_fixed(p, ee[k], 8);
        }
        for (int j = 0; j < N_ACT; j++) {
            *p++ = ',';
            p = put_fixed(p, tanh(q[j] + 0.1 * orl_rng_normal(&rng)), 8);
        }
        *p++ = ',';
        p = put_fixed(p, -sqrt(ee[0] * ee[0] + ee[1] * ee[1]) + 0.05 * orl_rng_normal(&rng), 8);
        *p++ = ',';
        *p++ = t == EPISODE_ROWS - 1 && ep % 2 == 0 ? '1' : '0';
        *p++ = '\n';
        if ((size_t)(p - buf) > cap - 1024) {
            fwrite(buf, 1, (size_t)(p - buf), f);
            p = buf;
        }
    }
    fwrite(buf, 1, (size_t)(p - buf), f);
    free(buf);
    /* on disk before timing starts, so write-back does not compete with the ingest */
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0) return -1;
    return orl_fs_size(path);
}

static int64_t block_rows; /* 0: the library's default */

static orl_ingest_options bench_options(void) {
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    opt.block_rows = block_rows;
    orl_ingest_map_set(&opt, "obs", "joint_pos_*,joint_vel_*,ee_*");
    orl_ingest_map_set(&opt, "act", "cmd_*");
    orl_ingest_map_set(&opt, "reward", "reward");
    orl_ingest_map_set(&opt, "episode", "episode");
    orl_ingest_map_set(&opt, "terminal", "done");
    orl_ingest_map_set(&opt, "env_id", "bench-arm-v0");
    return opt;
}

/* the parser alone: blocks read and discarded */
static orl_status parse_only(const char *log, const orl_ingest_options *opt,
                             orl_ingest_report *rep) {
    const char *logs[1] = {log};
    orl_ingest_stream *s = NULL;
    orl_dataset *block = NULL;
    orl_status st = orl_ingest_open(logs, 1, opt, NULL, &s);
    if (st) return st;
    st = orl_dataset_create(orl_ingest_header(s), block_rows > 0 ? block_rows : 4096, 16, &block);
    while (st == ORL_OK) {
        st = orl_ingest_next(s, block);
        if (st || block->n_steps == 0) break;
    }
    orl_ingest_stream_report(s, rep);
    orl_dataset_free(block);
    orl_ingest_close(s);
    return st;
}

/* runs one ingest in a child; fills seconds, the child's peak RSS in MB and its report */
static int measure(const char *target, const char *log, const char *out, double *seconds,
                   double *peak_mb, orl_ingest_report *rep) {
    orl_fs_remove(out);
    int fds[2];
    if (pipe(fds) != 0) return -1;
    double t0 = now_seconds();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        orl_ingest_options opt = bench_options();
        const char *logs[1] = {log};
        orl_ingest_report r;
        memset(&r, 0, sizeof r);
        orl_status st = strcmp(target, "parse") == 0 ? parse_only(log, &opt, &r)
                                                     : orl_ingest(logs, 1, out, &opt, NULL, &r);
        if (st) fprintf(stderr, "bench ingest %s: %s\n", target, orl_error_message());
        ssize_t wrote = write(fds[1], &r, sizeof r);
        _exit(st || wrote != (ssize_t)sizeof r ? 1 : 0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], rep, sizeof *rep);
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    *seconds = now_seconds() - t0;
    *peak_mb = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
    return got == (ssize_t)sizeof *rep && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    int64_t rows = 1000000;
    const char *dir = NULL, *targets = "hdf5,sqlite,parse", *given_log = NULL;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--targets") == 0 && i + 1 < argc)
            targets = argv[++i];
        else if (strcmp(argv[i], "--block-rows") == 0 && i + 1 < argc)
            block_rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            given_log = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: ingest [--rows N] [--dir DIR] [--keep] "
                            "[--targets hdf5,sqlite,parse] [--log CSV] [--block-rows N]\n");
            return 2;
        }
    }
    if (rows < 2) rows = 2;
    /* mkdtemp replaces the name's last six characters, which must be 'X' */
    char tmpdir[] = "/tmp/orl-bench-ingest-......";
    memset(tmpdir + strlen(tmpdir) - 6, 'X', 6);
    if (!dir) {
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            return 1;
        }
        dir = tmpdir;
    } else {
        mkdir(dir, 0755);
    }
    char log[4096], h5[4096], db[4096], none[4096];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(h5, sizeof h5, "%s/out.h5", dir);
    snprintf(db, sizeof db, "%s/out.sqlite", dir);
    snprintf(none, sizeof none, "%s/none", dir);
    if (given_log) snprintf(log, sizeof log, "%s", given_log);
    int64_t bytes = given_log ? orl_fs_size(log) : generate(log, rows);
    if (bytes < 0) {
        fprintf(stderr, "bench ingest: cannot write %s\n", log);
        return 1;
    }
    double mb = (double)bytes / 1e6;
    int failed = 0;
    static const char *const all[] = {"hdf5", "sqlite", "parse"};
    for (int k = 0; k < 3; k++) {
        if (!strstr(targets, all[k])) continue;
        const char *out = k == 0 ? h5 : k == 1 ? db : none;
        double seconds, peak;
        orl_ingest_report rep;
        if (measure(all[k], log, out, &seconds, &peak, &rep) != 0) {
            failed = 1;
            continue;
        }
        printf("{\"bench\":\"ingest\",\"target\":\"%s\",\"rows\":%lld,\"csv_mb\":%.1f,"
               "\"seconds\":%.3f,\"mb_per_s\":%.1f,\"rows_per_s\":%.0f,\"peak_rss_mb\":%.1f}\n",
               all[k], (long long)rep.rows_read, mb, seconds, mb / seconds,
               (double)rep.rows_read / seconds, peak);
        fflush(stdout);
    }
    if (!keep) {
        if (!given_log) orl_fs_remove(log);
        orl_fs_remove(h5);
        orl_fs_remove(db);
        if (dir == tmpdir) rmdir(tmpdir);
    }
    return failed;
}
