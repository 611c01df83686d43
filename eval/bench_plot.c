/* The benchmark report's pictures: gnuplot data files and a script (aggregate IQM with CI
 * bars, performance profiles with bands, learning curves per dataset with bands over seeds),
 * drawn as PNG and SVG by a gnuplot process into a temporary directory that replaces
 * DIR/plots whole. Without gnuplot on PATH there are no pictures, and a note says why. */
#define _DEFAULT_SOURCE /* realpath */
#include "eval/bench_internal.h"
#include "orl/fs.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* 1 when an executable named name is on PATH */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, name);
        if (n > 0 && access(dir, X_OK) == 0) return 1;
        p += n;
        if (*p == ':') p++;
    }
    return 0;
}

/* a dataset name in a file name */
static void file_part(const char *name, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
                       ? *p
                       : '_';
    out[n] = '\0';
}

/* 1 when some learner has a learning curve on dataset d */
static int has_curve(const orl_bench_curve *bands, int32_t d, int32_t L) {
    for (int32_t l = 0; l < L; l++)
        if (bands[d * L + l].n > 0) return 1;
    return 0;
}

static orl_status write_plot_files(const char *tmp, const orl_bench_table *t,
                                   const orl_bench_stats *S, const orl_bench_curve *bands) {
    const orl_bench_suite *s = t->s;
    int32_t D = S->D, L = S->L;
    char path[1400], part[160];
    snprintf(path, sizeof path, "%s/aggregate.dat", tmp);
    FILE *f = fopen(path, "w");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "# index learner iqm lo hi\n");
    for (int32_t l = 0; l < L; l++) {
        const orl_interval *v = &S->agg[l * ORL_STAT_COUNT + ORL_STAT_IQM];
        if (isfinite(v->value))
            fprintf(f, "%d \"%s\" %.6g %.6g %.6g\n", l, s->learners[l].name, v->value, v->lo,
                    v->hi);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/profile.dat", tmp);
    if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
    for (int32_t l = 0; l < L; l++) {
        fprintf(f, "# %s: tau fraction lo hi\n", s->learners[l].name);
        for (int32_t i = 0; i < N_TAU; i++) {
            const orl_interval *v = &S->prof[l * N_TAU + i];
            if (isfinite(v->value))
                fprintf(f, "%.6g %.6g %.6g %.6g\n", S->tau[i], v->value, v->lo, v->hi);
            else
                fprintf(f, "%.6g NaN NaN NaN\n", S->tau[i]);
        }
        fprintf(f, "\n\n");
    }
    fclose(f);
    for (int32_t d = 0; d < D; d++) {
        if (!has_curve(bands, d, L)) continue;
        file_part(s->datasets[d].name, part, sizeof part);
        snprintf(path, sizeof path, "%s/curves-%s.dat", tmp, part);
        if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
        for (int32_t l = 0; l < L; l++) {
            const orl_bench_curve *c = &bands[d * L + l];
            fprintf(f, "# %s: step mean lo hi\n", s->learners[l].name);
            for (int32_t i = 0; i < c->n; i++)
                fprintf(f, "%lld %.6g %.6g %.6g\n", (long long)c->step[i], c->v[i].value,
                        c->v[i].lo, c->v[i].hi);
            if (c->n == 0) fprintf(f, "0 NaN NaN NaN\n");
            fprintf(f, "\n\n");
        }
        fclose(f);
    }

    /* the script: every picture as PNG and SVG */
    snprintf(path, sizeof path, "%s/plots.gp", tmp);
    if (!(f = fopen(path, "w"))) ORL_FAIL(ORL_ERR_IO, "%s: cannot write", path);
    fprintf(f, "# orl bench report: run with gnuplot in this directory\nnames = \"");
    for (int32_t l = 0; l < L; l++) fprintf(f, "%s%s", l ? " " : "", s->learners[l].name);
    fprintf(f, "\"\nL = %d\nset key outside right\nset grid\n", L);
    static const char *const terms[2][2] = {{"pngcairo size 960,540", "png"},
                                            {"svg size 960,540", "svg"}};
    for (int k = 0; k < 2; k++) {
        fprintf(f, "set terminal %s\n", terms[k][0]);
        fprintf(f,
                "set output 'aggregate.%s'\nset title 'Aggregate IQM (%.0f%% stratified "
                "bootstrap CI)'\nset ylabel 'normalised score'\nset xlabel ''\n"
                "set xrange [-0.5:%d-0.5]\nset style fill solid 0.4\nset boxwidth 0.6\n"
                "plot 'aggregate.dat' using 1:3:xtic(2) with boxes notitle, "
                "'' using 1:3:4:5 with yerrorbars lc black pt 0 notitle\n",
                terms[k][1], 95.0, L);
        fprintf(f,
                "unset xrange\nset xtics auto\nset output 'profiles.%s'\n"
                "set title 'Performance profiles (fraction of runs above tau, with bands)'\n"
                "set xlabel 'normalised score tau'\nset ylabel 'fraction of runs > tau'\n"
                "set yrange [0:1.05]\nset style fill transparent solid 0.2 noborder\n"
                "plot for [i=0:L-1] 'profile.dat' index i using 1:3:4 with filledcurves "
                "lc i+1 notitle, for [i=0:L-1] 'profile.dat' index i using 1:2 with lines "
                "lw 2 lc i+1 title word(names, i+1)\nunset yrange\n",
                terms[k][1]);
        for (int32_t d = 0; d < D; d++) {
            if (!has_curve(bands, d, L)) continue; /* no run yet: nothing to draw */
            file_part(s->datasets[d].name, part, sizeof part);
            fprintf(f,
                    "set output 'curves-%s.%s'\nset title 'Learning curves: %s (mean over "
                    "seeds, bootstrap band)'\nset xlabel 'gradient steps'\n"
                    "set ylabel 'normalised score'\n"
                    "plot for [i=0:L-1] 'curves-%s.dat' index i using 1:3:4 with filledcurves "
                    "lc i+1 notitle, for [i=0:L-1] 'curves-%s.dat' index i using 1:2 with "
                    "linespoints lw 2 lc i+1 title word(names, i+1)\n",
                    part, terms[k][1], s->datasets[d].name, part, part);
        }
        fprintf(f, "unset output\n");
    }
    fclose(f);
    return ORL_OK;
}

/* draws the plots into DIR/plots (through a temporary directory); sets *plotted and note */
orl_status orl_bench_plot(const char *dir, const orl_bench_table *t, const orl_bench_stats *S,
                          const orl_bench_curve *bands, orl_bench_report_summary *sum) {
    sum->plotted = 0;
    if (!on_path("gnuplot")) {
        snprintf(sum->note, sizeof sum->note,
                 "gnuplot is not on PATH; install it (Debian: gnuplot-nox) for the pictures");
        return ORL_OK;
    }
    char final[1024], tmp[1200], abs_tmp[PATH_MAX];
    snprintf(final, sizeof final, "%s/plots", dir);
    ORL_TRY(orl_fs_temp_name(final, tmp, sizeof tmp));
    if (mkdir(tmp, 0755) != 0) ORL_FAIL(ORL_ERR_IO, "%s: cannot make: %s", tmp, strerror(errno));
    orl_status st = write_plot_files(tmp, t, S, bands);
    if (st == ORL_OK && (!realpath(tmp, abs_tmp) || strchr(abs_tmp, '\''))) {
        snprintf(sum->note, sizeof sum->note, "the directory's path has a quote: no plots");
        orl_fs_remove(tmp);
        return ORL_OK;
    }
    if (st == ORL_OK) {
        /* gnuplot runs the script from its directory (the script's first line changes there) */
        char script[PATH_MAX + 64], log[PATH_MAX + 64], cd[PATH_MAX + 64];
        snprintf(script, sizeof script, "%s/plots.gp", abs_tmp);
        snprintf(log, sizeof log, "%s/gnuplot.log", abs_tmp);
        snprintf(cd, sizeof cd, "cd '%s'", abs_tmp);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log, 01 | 0100 | 01000,
                                         0644); /* O_WRONLY|O_CREAT|O_TRUNC */
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        char *argv[] = {"gnuplot", "-e", cd, script, NULL};
        pid_t pid;
        int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        int status = 0;
        if (rc == 0) waitpid(pid, &status, 0);
        if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            snprintf(sum->note, sizeof sum->note, "gnuplot failed (see %s/plots/gnuplot.log)", dir);
        } else {
            sum->plotted = 1;
        }
    }
    if (st == ORL_OK) {
        orl_fs_remove(final);
        st = orl_fs_commit(tmp, final);
    }
    if (st != ORL_OK) orl_fs_remove(tmp);
    return st;
}
