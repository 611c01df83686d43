/* cli/: the program's strict number parsing, through the built `orl` binary. Every number a
 * user types goes through cli_parse_int / cli_parse_double: garbage, a trailing unit, an
 * out-of-range or overflowing value exits 2 with a message naming the flag and the text, and
 * leaves no output file. Good values still work (a cross-check that the ranges are not too
 * tight). */
#include "tests/shell.h"
#include "orl/mujoco.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIR ORL_BINARY_DIR "/tmp-cli"
#define ORL ORL_BINARY_DIR "/orl"
/* Criterion runs tests in parallel: each test has its own files */
#define IN       DIR "/bad-in.h5"
#define OUT      DIR "/bad-out.h5"
#define ERR      DIR "/bad-stderr.txt"
#define GOOD_IN  DIR "/good-in.h5"
#define GOOD_OUT DIR "/good-out.h5"
#define GZIP_IN  DIR "/gzip-in.h5"
#define EXAMPLES ORL_SOURCE_DIR "/examples"

static const char *slurp(const char *path) {
    static char buf[1 << 14];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void setup(void) {
    mkdir(DIR, 0755);
}

TestSuite(cli, .init = setup);

/* a small dataset for the verbs that read one */
static void make_input(const char *path) {
    cr_assert_eq(run("%s gen --env CartPole-v1 --behavior random --episodes 4 --seed 1 -o %s "
                     ">/dev/null",
                     ORL, path),
                 0);
}

typedef struct bad_number {
    const char *args; /* after "orl"; OUT is the output path, when the verb writes one */
    const char *flag; /* must appear in stderr */
    const char *text; /* must appear in stderr, quoted */
} bad_number;

static const bad_number bad_numbers[] = {
    {"convert " IN " " OUT " --gzip x", "--gzip", "x"},
    {"convert " IN " " OUT " --gzip 10", "--gzip", "10"},
    {"convert " IN " " OUT " --gzip -1", "--gzip", "-1"},
    {"convert " IN " " OUT " --gzip 4.5", "--gzip", "4.5"},
    {"convert " IN " " OUT " --max-episode-steps 10k", "--max-episode-steps", "10k"},
    {"convert " IN " " OUT " --max-episode-steps 0", "--max-episode-steps", "0"},
    {"filter " IN " -o " OUT " --top 5x%", "--top", "5x"},
    {"filter " IN " -o " OUT " --top 0%", "--top", "0"},
    {"filter " IN " -o " OUT " --top 101", "--top", "101"},
    {"filter " IN " -o " OUT " --min-return abc", "--min-return", "abc"},
    {"filter " IN " -o " OUT " --min-return nan", "--min-return", "nan"},
    {"filter " IN " -o " OUT " --top 10% --discount 1.5", "--discount", "1.5"},
    {"filter " IN " -o " OUT " --top 10% --max-episode-steps ''", "--max-episode-steps", "''"},
    {"info " IN " --max-episode-steps -3", "--max-episode-steps", "-3"},
    {"validate " IN " --max-episode-steps 1e3", "--max-episode-steps", "1e3"},
    {"eval builtin:CartPole-v1/random --env CartPole-v1 --episodes 0", "--episodes", "0"},
    {"eval builtin:CartPole-v1/random --env CartPole-v1 --seed -1", "--seed", "-1"},
    {"gen --env CartPole-v1 --behavior random --episodes 3e2 -o " OUT, "--episodes", "3e2"},
    {"gen --env CartPole-v1 --behavior random --steps 99999999999999999999 -o " OUT, "--steps",
     "99999999999999999999"},
    {"gen --env CartPole-v1 --behavior random --seed 1.5 -o " OUT, "--seed", "1.5"},
    {"train --algo bc --data " IN " -o " OUT " --steps 10x", "--steps", "10x"},
    {"train --algo bc --data " IN " -o " OUT " --batch 2000000", "--batch", "2000000"},
    {"train --algo bc --data " IN " -o " OUT " --seed ' 7'", "--seed", " 7"},
    {"train --algo bc --data " IN " -o " OUT " --val-fraction 1", "--val-fraction", "1"},
    {"train --algo bc --data " IN " -o " OUT " --val-fraction half", "--val-fraction", "half"},
    {"train --algo bc --data " IN " -o " OUT " --eval-every 0", "--eval-every", "0"},
    {"ingest " EXAMPLES "/arm.csv --map " EXAMPLES "/arm.map -o " OUT " --n-actions x",
     "--n-actions", "x"},
    {"ingest " EXAMPLES "/arm.csv --map " EXAMPLES "/arm.map -o " OUT " --discount 2", "--discount",
     "2"},
    {"ingest " EXAMPLES "/arm.csv --map " EXAMPLES "/arm.map -o " OUT " --episode-gap 1s",
     "--episode-gap", "1s"},
};

Test(cli, bad_numbers_exit_2_naming_flag_and_text) {
    make_input(IN);
    for (size_t k = 0; k < sizeof bad_numbers / sizeof bad_numbers[0]; k++) {
        const bad_number *c = &bad_numbers[k];
        unlink(OUT);
        int code = run("%s %s >/dev/null 2>%s", ORL, c->args, ERR);
        const char *err = slurp(ERR);
        cr_expect_eq(code, 2, "orl %s: exit %d, stderr: %s", c->args, code, err);
        cr_expect(strstr(err, c->flag), "orl %s: stderr does not name %s: %s", c->args, c->flag,
                  err);
        /* the text as typed, quoted (the shell's '' is the empty text) */
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s'", strcmp(c->text, "''") == 0 ? "" : c->text);
        cr_expect(strstr(err, quoted), "orl %s: stderr does not show %s: %s", c->args, quoted, err);
        cr_expect_neq(access(OUT, F_OK), 0, "orl %s left %s behind", c->args, OUT);
    }
}

/* the ranges admit what users type: --gzip 0 (no compression) and 9, a percentage with '%' */
Test(cli, good_numbers_still_work) {
    make_input(GOOD_IN);
    unlink(GOOD_OUT);
    cr_assert_eq(run("%s convert %s %s --gzip 0 >/dev/null", ORL, GOOD_IN, GOOD_OUT), 0);
    cr_assert_eq(access(GOOD_OUT, F_OK), 0);
    unlink(GOOD_OUT);
    cr_assert_eq(run("%s convert %s %s --gzip 9 >/dev/null", ORL, GOOD_IN, GOOD_OUT), 0);
    unlink(GOOD_OUT);
    cr_assert_eq(
        run("%s filter %s -o %s --top 50%% --discount 0.99 >/dev/null", ORL, GOOD_IN, GOOD_OUT), 0);
    cr_assert_eq(access(GOOD_OUT, F_OK), 0);
    unlink(GOOD_OUT);
    cr_assert_eq(run("%s filter %s -o %s --min-return -1e3 >/dev/null", ORL, GOOD_IN, GOOD_OUT), 0);
    unlink(GOOD_OUT);
    cr_assert_eq(run("%s eval builtin:CartPole-v1/random --env CartPole-v1 --episodes 2 --seed "
                     "9223372036854775807 >/dev/null",
                     ORL),
                 0);
    cr_assert_eq(run("%s gen --env CartPole-v1 --behavior random --steps 50 --seed 0 -o %s "
                     ">/dev/null",
                     ORL, GOOD_OUT),
                 0);
    unlink(GOOD_OUT);
}

/* orl eval --dump-qpos writes the first episode's joint positions on a MuJoCo task (one row
 * per state, the length orl eval reports), refuses other tasks with exit 2 and writes nothing */
Test(cli, eval_dumps_joint_positions_on_mujoco_tasks) {
    const char *csv = DIR "/hopper-qpos.csv";
    unlink(csv);
    if (!orl_mujoco_built()) {
        cr_assert_eq(run("%s eval builtin:Hopper-v4/random --env Hopper-v4 --episodes 1 "
                         "--dump-qpos %s >/dev/null 2>&1",
                         ORL, csv),
                     2);
        return;
    }
    cr_assert_eq(run("%s eval builtin:Hopper-v4/random --env Hopper-v4 --episodes 1 --seed 4 "
                     "--json --dump-qpos %s >%s",
                     ORL, csv, DIR "/hopper-eval.json"),
                 0);
    char report[1 << 14];
    snprintf(report, sizeof report, "%s", slurp(DIR "/hopper-eval.json"));
    const char *steps = strstr(report, "\"qpos_steps\": ");
    const char *length = strstr(report, "\"mean\": ");
    cr_assert(steps && length, "%s", report);
    long n = strtol(steps + 14, NULL, 10);
    cr_assert_eq((double)n, strtod(length + 8, NULL), "dump %ld steps, eval %s", n, length);
    const char *text = slurp(csv);
    cr_assert_eq(strncmp(text, "step,time,reward,rootx,rootz,rooty,thigh_joint", 46), 0, "%.80s",
                 text);
    long rows = 0;
    for (const char *c = text; *c; c++) rows += *c == '\n';
    cr_assert_eq(rows, n + 2, "%ld rows for %ld steps (header and initial state)", rows, n);

    const char *other = DIR "/cartpole-qpos.csv";
    unlink(other);
    cr_assert_eq(run("%s eval builtin:CartPole-v1/random --env CartPole-v1 --episodes 1 "
                     "--dump-qpos %s 2>%s >/dev/null",
                     ORL, other, DIR "/cartpole-qpos.err"),
                 2);
    cr_assert(strstr(slurp(DIR "/cartpole-qpos.err"), "CartPole-v1"), "%s",
              slurp(DIR "/cartpole-qpos.err"));
    cr_assert_neq(access(other, F_OK), 0);
}

/* gzip level 0 means no filters at all: the file is larger than with the default level */
Test(cli, gzip_zero_is_uncompressed) {
    struct stat none, def;
    make_input(GZIP_IN);
    cr_assert_eq(run("%s convert %s %s/none.h5 --gzip 0 >/dev/null", ORL, GZIP_IN, DIR), 0);
    cr_assert_eq(run("%s convert %s %s/def.h5 >/dev/null", ORL, GZIP_IN, DIR), 0);
    cr_assert_eq(stat(DIR "/none.h5", &none), 0);
    cr_assert_eq(stat(DIR "/def.h5", &def), 0);
    cr_assert_gt(none.st_size, def.st_size, "--gzip 0: %lld bytes, default: %lld bytes",
                 (long long)none.st_size, (long long)def.st_size);
}

Test(cli, help_verb_is_the_verbs_own_help) {
    const char *verbs[] = {"ingest", "info", "validate", "convert", "filter", "gen",
                           "train",  "eval", "ope",      "policy",  "demo"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        cr_assert_eq(run("%s help %s > %s/help-a.txt 2>&1", ORL, verbs[i], DIR), 0, "%s", verbs[i]);
        cr_assert_eq(run("%s %s --help > %s/help-b.txt 2>&1", ORL, verbs[i], DIR), 0, "%s",
                     verbs[i]);
        cr_assert_eq(run("cmp -s %s/help-a.txt %s/help-b.txt", DIR, DIR), 0,
                     "orl help %s differs from orl %s --help", verbs[i], verbs[i]);
    }
    cr_assert_eq(run("%s help no-such-verb > /dev/null 2>&1", ORL), 2);
    cr_assert_eq(run("%s --version | grep -q '^orl [0-9]'", ORL), 0);
}
