/* formats/ingest.c, csv.c, jsonl.c and `orl ingest`: parsing CSV/TSV/JSON Lines, the mapping,
 * the episode and next-observation rules on exact small logs, every kind of bad input (one
 * message naming file, line and column; exit status 2; no output file), streaming across
 * blocks and buffers, and the decimal -> float32 conversion against strtof. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCRATCH ORL_BINARY_DIR "/tmp-ingest"
#define ORL     ORL_BINARY_DIR "/orl"

/* ---- helpers ---- */

static const char *scratch(const char *name) {
    static _Thread_local char paths[8][4096];
    static _Thread_local int next;
    mkdir(SCRATCH, 0755);
    char *p = paths[next++ % 8];
    snprintf(p, 4096, "%s/%s", SCRATCH, name);
    return p;
}

static const char *write_bytes(const char *name, const char *bytes, size_t n) {
    const char *path = scratch(name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fwrite(bytes, 1, n, f);
    fclose(f);
    return path;
}

static const char *write_file(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text));
}

static orl_ingest_options base_options(void) {
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    return opt;
}

static void map(orl_ingest_options *opt, const char *key, const char *value) {
    cr_assert_eq(orl_ingest_map_set(opt, key, value), ORL_OK, "%s = %s: %s", key, value,
                 orl_error_message());
}

static orl_dataset *ingest_ok(const char *const *logs, int n, const orl_ingest_options *opt,
                              orl_ingest_report *rep) {
    orl_dataset *ds = NULL;
    orl_status st = orl_ingest_dataset(logs, n, opt, NULL, &ds, rep);
    cr_assert_eq(st, ORL_OK, "ingest failed: %s", orl_error_message());
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "invalid: %s", orl_error_message());
    return ds;
}

static orl_dataset *ingest_one(const char *log, const orl_ingest_options *opt,
                               orl_ingest_report *rep) {
    const char *logs[1] = {log};
    return ingest_ok(logs, 1, opt, rep);
}

/* the message of a failing ingest, which must contain every one of the given pieces */
static void expect_failure(const char *log, const orl_ingest_options *opt, orl_status want,
                           const char *const *pieces) {
    const char *logs[1] = {log};
    orl_dataset *ds = NULL;
    orl_status st = orl_ingest_dataset(logs, 1, opt, NULL, &ds, NULL);
    cr_assert_eq(st, want, "status %d (%s), want %d", st, orl_error_message(), want);
    cr_assert_null(ds);
    for (; *pieces; pieces++)
        cr_assert_not_null(strstr(orl_error_message(), *pieces), "'%s' not in: %s", *pieces,
                           orl_error_message());
}

static int run(const char *cmd) {
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc), "%s did not exit", cmd);
    return WEXITSTATUS(rc);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* no file in SCRATCH whose name starts with ".<base>.tmp" (a writer's temporary) */
static int temp_left(const char *base) {
    char prefix[256];
    snprintf(prefix, sizeof prefix, ".%s.tmp", base);
    DIR *d = opendir(SCRATCH);
    int found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) found |= strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return found;
}

/* `orl ingest LOG -o OUT ARGS` must exit 2, print one line naming every piece, and leave no
 * output (nor a temporary) behind */
static void cli_rejects(const char *log, const char *out_base, const char *args,
                        const char *const *pieces) {
    const char *out = scratch(out_base);
    const char *err = scratch("cli-stderr-");
    char err_path[4096];
    snprintf(err_path, sizeof err_path, "%s%s.txt", err, out_base);
    remove(out);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' ingest '%s' -o '%s' %s >/dev/null 2>'%s'", ORL, log, out, args,
             err_path);
    cr_assert_eq(run(cmd), 2, "%s", cmd);
    char *msg = slurp(err_path);
    for (; *pieces; pieces++)
        cr_assert_not_null(strstr(msg, *pieces), "'%s' not in: %s", *pieces, msg);
    cr_assert_eq(strchr(msg, '\n'), msg + strlen(msg) - 1, "not one line: %s", msg);
    cr_assert_eq(orl_fs_exists(out), 0, "%s was left behind", out);
    cr_assert_eq(temp_left(out_base), 0, "a temporary of %s was left behind", out_base);
    free(msg);
}

static float f32(const char *decimal) {
    return strtof(decimal, NULL);
}

#define ARM_MAP(opt)                                                                               \
    do {                                                                                           \
        map(&(opt), "obs", "q*");                                                                  \
        map(&(opt), "act", "a*");                                                                  \
        map(&(opt), "reward", "r");                                                                \
    } while (0)

/* ---- CSV dialects ---- */

Test(ingest, csv_quotes_embedded_delimiters_and_crlf) {
    const char *log = write_file("quotes.csv", "q0,\"note, with comma\",q1,a0,r,done\r\n"
                                               "1.5,\"say \"\"hi\"\", ok\",2.5,0.25,1,0\r\n"
                                               "\"1.75\",\"two\r\nlines\",\" 2.75 \",0.5,2,0\r\n"
                                               "2,plain,3,0.75,3,1\r\n"
                                               "\r\n");
    orl_ingest_options opt = base_options();
    ARM_MAP(opt);
    map(&opt, "terminal", "done");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    cr_assert_eq(rep.rows_read, 3);
    cr_assert_eq(ds->n_steps, 3);
    cr_assert_eq(ds->h.obs_dim, 2);
    float obs[] = {1.5f, 2.5f, 1.75f, 2.75f, 2.0f, 3.0f};
    for (int i = 0; i < 6; i++) cr_assert_eq(ds->obs[i], obs[i], "obs[%d] = %g", i, ds->obs[i]);
    cr_assert_eq(ds->act[1], 0.5f);
    cr_assert_eq(ds->rew[2], 3.0f);
    cr_assert_eq(ds->terminal[2], 1);
    orl_dataset_free(ds);

    /* the quoted line break counts: an error after it names the right line */
    const char *bad = write_file("quotes-bad.csv", "q0,note,q1,a0,r\n"
                                                   "1,\"a\nb\",2,3,4\n"
                                                   "1,x,oops,3,4\n");
    orl_ingest_options o2 = base_options();
    ARM_MAP(o2);
    const char *pieces[] = {"quotes-bad.csv:4:5:", "'q1'", "'oops'", NULL};
    expect_failure(bad, &o2, ORL_ERR_INPUT, pieces);

    /* a NUL byte is text: harmless in an unmapped cell, not a number in a mapped one; a UTF-8
     * byte order mark and a last line without its line end */
    static const char nul[] = "\xEF\xBB\xBFq0,note,q1,a0,r\n1,a\0b,2,3,4\n5,c,6,7,8";
    orl_ingest_report rep2;
    orl_dataset *d2 = ingest_one(write_bytes("nul.csv", nul, sizeof nul - 1), &o2, &rep2);
    cr_assert_eq(rep2.rows_read, 2);
    cr_assert_eq(d2->obs[1], 2.0f);
    cr_assert_eq(d2->next_obs[1], 6.0f);
    orl_dataset_free(d2);
    static const char nul_num[] = "q0,note,q1,a0,r\n1,x,2\0,3,4\n";
    const char *p2[] = {"nul-num.csv:2:5:", "'q1'", "expected a number", NULL};
    expect_failure(write_bytes("nul-num.csv", nul_num, sizeof nul_num - 1), &o2, ORL_ERR_INPUT, p2);
}

Test(ingest, tsv_semicolon_and_delimiter_flag) {
    /* a tab-separated log whose text cells hold commas: the tab is sniffed */
    const char *tsv = write_file("tabs.tsv", "q0\tnote\ta0\tr\tdone\n"
                                             "0.5\tone, two\t2\t3\t0\n"
                                             "1.5\tthree, four\t4\t5\t1\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q0");
    map(&opt, "act", "a0");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    orl_dataset *ds = ingest_one(tsv, &opt, NULL);
    cr_assert_eq(ds->n_steps, 2);
    cr_assert_eq(ds->obs[1], 1.5f);
    cr_assert_eq(ds->next_obs[0], 1.5f);
    cr_assert_eq(ds->act[1], 4.0f);
    cr_assert_eq(ds->rew[1], 5.0f);
    orl_dataset_free(ds);

    const char *semi = write_file("semi.csv", "q0;q1;a0;r;term\n1,0;2;3;4;0\n5;6;7;8;1\n");
    orl_ingest_options o2 = base_options();
    ARM_MAP(o2);
    map(&o2, "terminal", "term");
    /* sniffed ';' makes "1,0" one cell, which is not a number */
    const char *pieces[] = {"semi.csv:2:1:", "'q0'", "'1,0'", NULL};
    expect_failure(semi, &o2, ORL_ERR_INPUT, pieces);

    const char *semi_ok = write_file("semi-ok.csv", "q0;q1;a0;r;term\n1.0;2;3;4;0\n5;6;7;8;1\n");
    orl_dataset *d2 = ingest_one(semi_ok, &o2, NULL);
    cr_assert_eq(d2->n_steps, 2);
    cr_assert_eq(d2->obs[2], 5.0f);
    cr_assert_eq(d2->next_obs[0], 5.0f);
    cr_assert_eq(d2->act[1], 7.0f);
    orl_dataset_free(d2);

    /* --delimiter forces '|' where the header has commas too */
    const char *pipe = write_file("pipe.csv", "q0|q,1|a0|r|term\n1|2|3|4|1\n");
    orl_ingest_options o3 = base_options();
    map(&o3, "obs", "q0,q?1");
    map(&o3, "act", "a0");
    map(&o3, "reward", "r");
    map(&o3, "terminal", "term");
    map(&o3, "delimiter", "|");
    orl_dataset *d3 = ingest_one(pipe, &o3, NULL);
    cr_assert_eq(d3->h.obs_dim, 2);
    cr_assert_eq(d3->obs[1], 2.0f);
    orl_dataset_free(d3);
}

/* ---- JSON Lines ---- */

Test(ingest, jsonl_nested_objects_arrays_booleans) {
    const char *log = write_file(
        "nested.jsonl",
        "{\"t\": 0.0, \"obs\": {\"q\": [1.5, 2.5, 3.5], \"grip\": true}, \"act\": [0.1, 0.2],"
        " \"reward\": 1, \"done\": false, \"note\": \"x\"}\n"
        "\n"
        "{\"note\": \"order and extra keys do not matter\", \"extra\": {\"a\": 1}, \"t\": 0.1,"
        " \"obs\": {\"grip\": false, \"q\": [4.5, 5.5, 6.5]}, \"act\": [0.3, 0.4], \"reward\": 2,"
        " \"done\": true}\r\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "obs.q,obs.grip");
    map(&opt, "act", "act");
    map(&opt, "reward", "reward");
    map(&opt, "terminal", "done");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    cr_assert_eq(ds->h.obs_dim, 4);
    cr_assert_eq(ds->h.act_dim, 2);
    cr_assert_eq(ds->n_steps, 2);
    float obs[] = {1.5f, 2.5f, 3.5f, 1.0f, 4.5f, 5.5f, 6.5f, 0.0f};
    for (int i = 0; i < 8; i++) cr_assert_eq(ds->obs[i], obs[i], "obs[%d] = %g", i, ds->obs[i]);
    for (int i = 0; i < 4; i++) cr_assert_eq(ds->next_obs[i], obs[4 + i]);
    cr_assert_eq(ds->act[3], 0.4f);
    cr_assert_eq(ds->terminal[1], 1);
    cr_assert_eq(ds->terminal[0], 0);
    orl_dataset_free(ds);

    /* one element by its index, and a glob over the flattened names */
    orl_ingest_options o2 = opt;
    map(&o2, "obs", "obs.q[2],obs.*");
    orl_dataset *d2 = ingest_one(log, &o2, NULL);
    cr_assert_eq(d2->h.obs_dim, 4);
    cr_assert_eq(d2->obs[0], 3.5f);
    cr_assert_eq(d2->obs[1], 1.5f);
    cr_assert_eq(d2->obs[3], 1.0f);
    orl_dataset_free(d2);
}

Test(ingest, jsonl_nonfinite_words_and_errors) {
    /* Python's json writes NaN: accepted as a value, then subject to --on-nan */
    const char *log =
        write_file("nan.jsonl", "{\"o\": [1, 2], \"a\": 0, \"r\": 1, \"ep\": 1}\n"
                                "{\"o\": [NaN, 2], \"a\": 0, \"r\": 1, \"ep\": 1}\n"
                                "{\"o\": [3, 4], \"a\": 0, \"r\": 1, \"ep\": 2}\n"
                                "{\"o\": [5, 6], \"a\": 1, \"r\": -Infinity, \"ep\": 2}\n"
                                "{\"o\": [7, 8], \"a\": 1, \"r\": 1, \"ep\": \"3\"}\n"
                                "{\"o\": [9, 10], \"a\": 1, \"r\": 1, \"ep\": \"3\"}\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "o");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode", "ep");
    const char *pieces[] = {"nan.jsonl:2:", "'o[0]'", "NaN", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, pieces);
    map(&opt, "on_nan", "drop-episode");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    /* episodes 1 and 2 dropped; episode "3": two rows, the last dropped (not terminal) */
    cr_assert_eq(ds->n_steps, 1);
    cr_assert_eq(ds->obs[0], 7.0f);
    cr_assert_eq(ds->next_obs[1], 10.0f);
    cr_assert_eq(ds->timeout[0], 1);
    cr_assert_eq(rep.dropped_episodes, 2);
    cr_assert_eq(rep.dropped_rows, 5);
    orl_dataset_free(ds);

    const char *bad = write_file("bad.jsonl", "{\"o\": 1, \"a\": 0, \"r\": 1}\n"
                                              "{\"o\": 1, \"a\": 0,, \"r\": 1}\n");
    orl_ingest_options o2 = base_options();
    map(&o2, "obs", "o");
    map(&o2, "act", "a");
    map(&o2, "reward", "r");
    const char *p2[] = {"bad.jsonl:2:17:", "invalid JSON", NULL};
    expect_failure(bad, &o2, ORL_ERR_INPUT, p2);

    const char *missing = write_file("missing.jsonl", "{\"o\": [1, 2], \"a\": 0, \"r\": 1}\n"
                                                      "{\"o\": [1], \"a\": 0, \"r\": 1}\n"
                                                      "{\"a\": 0, \"r\": 1}\n");
    map(&o2, "obs", "o");
    const char *p3[] = {"missing.jsonl:2:", "'o[0]'", "1 elements, 2 on line 1", NULL};
    expect_failure(missing, &o2, ORL_ERR_INPUT, p3);

    const char *type = write_file("type.jsonl", "{\"o\": 1, \"a\": 0, \"r\": 1}\n"
                                                "{\"o\": \"1.5\", \"a\": 0, \"r\": 1}\n");
    const char *p4[] = {"type.jsonl:2:", "'o'", "expected a number, got a string", NULL};
    expect_failure(type, &o2, ORL_ERR_INPUT, p4);
}

/* ---- mapping ---- */

Test(ingest, glob_order_and_duplicates) {
    const char *log = write_file("glob.csv", "joint_vel_1,joint_pos_1,joint_vel_0,joint_pos_0,"
                                             "cmd_b,cmd_a,reward,done\n"
                                             "11,1,10,0,21,20,0,1\n");
    orl_ingest_options opt = base_options();
    /* pattern by pattern; within a pattern the log's order; a column only once */
    map(&opt, "obs", "joint_pos_*, joint_vel_*, joint_pos_1");
    map(&opt, "act", "cmd_*");
    map(&opt, "reward", "rew*");
    map(&opt, "terminal", "done");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    cr_assert_eq(ds->h.obs_dim, 4);
    float obs[] = {1, 0, 11, 10};
    for (int i = 0; i < 4; i++) cr_assert_eq(ds->obs[i], obs[i], "obs[%d] = %g", i, ds->obs[i]);
    cr_assert_eq(ds->act[0], 21.0f);
    cr_assert_eq(ds->act[1], 20.0f);
    orl_dataset_free(ds);

    /* the same column for two purposes, and a single column matching two */
    map(&opt, "act", "cmd_*,joint_pos_0");
    const char *p1[] = {"glob.csv", "'joint_pos_0' is mapped twice", "--obs", "--act", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p1);
    map(&opt, "act", "cmd_*");
    map(&opt, "reward", "joint_*");
    const char *p2[] = {"matches 4 columns", "--reward", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p2);
}

/* found by fuzz/fuzz_csv.c: an empty header cell was read past its end when matched */
Test(ingest, empty_column_names_are_matched_safely) {
    const char *log = write_file("empty-names.csv", "o0,,o1,a,,r,done\n1,9,2,3,9,4,1\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "o*");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    cr_assert_eq(ds->h.obs_dim, 2);
    cr_assert_eq(ds->obs[1], 2.0f);
    orl_dataset_free(ds);
}

Test(ingest, mapping_file_and_flags_over_it) {
    const char *m = write_file("arm.map", "# the arm's mapping\n"
                                          "obs = q_*          # joint positions\n"
                                          "obs = v_*\n"
                                          "act = \"cmd #1\"\n"
                                          "\n"
                                          "reward = r\n"
                                          "done = end\n"
                                          "env-id = arm-v0\n"
                                          "behavior = teleop\n");
    orl_ingest_options opt = base_options();
    cr_assert_eq(orl_ingest_map_load(m, &opt), ORL_OK, "%s", orl_error_message());
    cr_assert_str_eq(opt.obs, "q_*,v_*");
    cr_assert_str_eq(opt.act, "cmd #1");
    cr_assert_str_eq(opt.terminal, "end");
    cr_assert_str_eq(opt.env_id, "arm-v0");
    /* a flag applied after the file wins */
    map(&opt, "obs", "v_*");
    const char *log = write_file("mapped.csv", "q_0,v_0,cmd #1,r,end\n1,2,3,4,0\n5,6,7,8,1\n");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    cr_assert_eq(ds->h.obs_dim, 1);
    cr_assert_eq(ds->obs[0], 2.0f);
    cr_assert_eq(ds->act[1], 7.0f);
    cr_assert_str_eq(ds->h.env_id, "arm-v0");
    cr_assert_str_eq(ds->h.behavior, "teleop");
    cr_assert_str_eq(ds->h.source, "mapped.csv");
    orl_dataset_free(ds);

    orl_ingest_options o2 = base_options();
    const char *bad_key = write_file("bad-key.map", "obs = a\n\nobz = b\n");
    cr_assert_eq(orl_ingest_map_load(bad_key, &o2), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "bad-key.map:3: unknown key 'obz'"), "%s",
                       orl_error_message());
    const char *twice = write_file("twice.map", "reward = a\nreward = b\n");
    cr_assert_eq(orl_ingest_map_load(twice, &o2), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "twice.map:2: key 'reward' given twice"));
    const char *bad_value = write_file("bad-value.map", "on_nan = skip\n");
    cr_assert_eq(orl_ingest_map_load(bad_value, &o2), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "bad-value.map:1: on_nan"), "%s",
                       orl_error_message());
    const char *no_eq = write_file("no-eq.map", "obs q*\n");
    cr_assert_eq(orl_ingest_map_load(no_eq, &o2), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "no-eq.map:1: expected 'key = value'"));
}

/* ---- episodes ---- */

/* obs column q, action a, reward r; each row's q is its row number */
Test(ingest, episode_column_and_file_boundaries) {
    const char *a = write_file("ep-a.csv", "ep,q,a,r\n"
                                           "7,1,0,0\n7,2,0,0\n7,3,0,0\n"
                                           "8,4,0,0\n8,5,0,0\n"
                                           "7,6,0,0\n7,7,0,0\n");
    const char *b = write_file("ep-b.csv", "ep,q,a,r\n7,8,0,0\n7,9,0,0\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode", "ep");
    const char *logs[] = {a, b};
    orl_ingest_report rep;
    orl_dataset *ds = ingest_ok(logs, 2, &opt, &rep);
    /* episodes 7 | 8 | 7 again | 7 in the next file (its own source): each loses its last row */
    cr_assert_eq(ds->n_episodes, 4);
    int64_t off[] = {0, 2, 3, 4, 5};
    for (int e = 0; e <= 4; e++) cr_assert_eq(ds->ep_off[e], off[e], "ep_off[%d]", e);
    float obs[] = {1, 2, 4, 6, 8};
    float next[] = {2, 3, 5, 7, 9};
    for (int t = 0; t < 5; t++) {
        cr_assert_eq(ds->obs[t], obs[t], "obs[%d]", t);
        cr_assert_eq(ds->next_obs[t], next[t], "next_obs[%d]", t);
        cr_assert_eq(ds->timeout[t], t == 1 || t == 2 || t == 3 || t == 4, "timeout[%d]", t);
        cr_assert_eq(ds->terminal[t], 0);
    }
    cr_assert_eq(rep.rows_read, 9);
    cr_assert_eq(rep.dropped_rows, 4);
    cr_assert_eq(rep.episodes, 4);
    cr_assert_str_eq(ds->h.source, "ep-a.csv, ep-b.csv");
    orl_dataset_free(ds);
}

Test(ingest, terminal_and_timeout_columns) {
    const char *log = write_file("flags.csv", "q,a,r,term,trunc\n"
                                              "1,0,1,0,0\n2,0,1,0,0\n3,0,1,true,0\n"
                                              "4,0,1,0,0\n5,0,1,0,0\n6,0,1,0,1\n"
                                              "7,0,1,0,0\n8,0,1,1,1\n"
                                              "9,0,1,0,0\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "term");
    map(&opt, "timeout", "trunc");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    /* [1 2 3T] [4 5 6t -> 4 5, 5 timeout] [7 8T (terminal wins over timeout)] [9: vanishes] */
    cr_assert_eq(ds->n_steps, 7);
    float obs[] = {1, 2, 3, 4, 5, 7, 8};
    float next[] = {2, 3, 3, 5, 6, 8, 8};
    uint8_t term[] = {0, 0, 1, 0, 0, 0, 1};
    uint8_t tout[] = {0, 0, 0, 0, 1, 0, 0};
    for (int t = 0; t < 7; t++) {
        cr_assert_eq(ds->obs[t], obs[t], "obs[%d]", t);
        cr_assert_eq(ds->next_obs[t], next[t], "next_obs[%d] = %g", t, ds->next_obs[t]);
        cr_assert_eq(ds->terminal[t], term[t], "terminal[%d]", t);
        cr_assert_eq(ds->timeout[t], tout[t], "timeout[%d]", t);
    }
    cr_assert_eq(ds->n_episodes, 3);
    cr_assert_eq(rep.dropped_rows, 2);
    cr_assert_eq(rep.dropped_episodes, 1);
    orl_dataset_free(ds);
}

/* a flag column takes 0 and 1 as numbers ("0.0", "1e0" too) and true/false in any case */
Test(ingest, flag_columns_accept_zero_one_true_false) {
    const char *log = write_file("flag-ok.csv", "q,a,r,done,cut\n"
                                                "1,0,1,0.0,FALSE\n2,0,1,1.0,false\n"
                                                "3,0,1,0,False\n4,0,1,TRUE,0\n"
                                                "5,0,1,false,0e0\n6,0,1,1e0,0\n"
                                                "7,0,1, 0 ,0\n8,0,1,0,True\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "done", "done");
    map(&opt, "timeout", "cut");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    uint8_t term[] = {0, 1, 0, 1, 0, 1, 0, 0};
    uint8_t tout[] = {0, 0, 0, 0, 0, 0, 0, 1};
    /* [1 2T] [3 4T] [5 6T] [7 8t]: the timeout episode loses its last row (no next_obs) */
    cr_assert_eq(ds->n_episodes, 4);
    for (int64_t t = 0; t < ds->n_steps; t++) {
        int row = (int)ds->obs[t] - 1;
        cr_assert_eq(ds->terminal[t], term[row], "terminal at obs %d", row + 1);
        if (row < 7) cr_assert_eq(ds->timeout[t], row == 6 ? 1 : tout[row], "timeout at %d", row);
    }
    orl_dataset_free(ds);

    const char *jl =
        write_file("flag-ok.jsonl", "{\"q\": 1, \"a\": 0, \"r\": 1, \"done\": 0}\n"
                                    "{\"q\": 2, \"a\": 0, \"r\": 1, \"done\": 1.0}\n"
                                    "{\"q\": 3, \"a\": 0, \"r\": 1, \"done\": false}\n"
                                    "{\"q\": 4, \"a\": 0, \"r\": 1, \"done\": true}\n");
    orl_ingest_options o2 = base_options();
    map(&o2, "obs", "q");
    map(&o2, "act", "a");
    map(&o2, "reward", "r");
    map(&o2, "terminal", "done");
    ds = ingest_one(jl, &o2, NULL);
    cr_assert_eq(ds->n_steps, 4);
    cr_assert_eq(ds->n_episodes, 2);
    uint8_t jterm[] = {0, 1, 0, 1};
    for (int t = 0; t < 4; t++) cr_assert_eq(ds->terminal[t], jterm[t], "terminal[%d]", t);
    orl_dataset_free(ds);
}

/* anything else in a flag column (done=2, -1, 0.5, yes, a JSON string) is refused with
 * file:line(:column) and the column's name, never taken as set */
Test(ingest, flag_columns_reject_other_values) {
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    map(&opt, "timeout", "cut");
    static const struct {
        const char *cell, *shown;
    } bad[] = {{"2", "'2'"},   {"-1", "'-1'"},       {"0.5", "'0.5'"}, {"yes", "'yes'"},
               {"1x", "'1x'"}, {"truee", "'truee'"}, {"10", "'10'"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char text[256], name[64];
        snprintf(text, sizeof text, "q,a,r,done,cut\n1,0,1,0,0\n2,0,1,%s,0\n", bad[k].cell);
        snprintf(name, sizeof name, "flag-bad-%zu.csv", k);
        char where[80];
        snprintf(where, sizeof where, "%s:3:7:", name);
        const char *pieces[] = {where, "column 'done'", "expected 0, 1, true or false",
                                bad[k].shown, NULL};
        expect_failure(write_file(name, text), &opt, ORL_ERR_INPUT, pieces);
    }
    /* the timeout column too */
    const char *p1[] = {"flag-cut.csv:2:9:", "column 'cut'", "'2'", NULL};
    expect_failure(write_file("flag-cut.csv", "q,a,r,done,cut\n1,0,1,0,2\n"), &opt, ORL_ERR_INPUT,
                   p1);

    orl_ingest_options o2 = base_options();
    map(&o2, "obs", "q");
    map(&o2, "act", "a");
    map(&o2, "reward", "r");
    map(&o2, "terminal", "done");
    const char *j1[] = {"flag-2.jsonl:2:", "key 'done'", "expected true, false, 0 or 1, got 2",
                        NULL};
    expect_failure(write_file("flag-2.jsonl", "{\"q\": 1, \"a\": 0, \"r\": 1, \"done\": 0}\n"
                                              "{\"q\": 2, \"a\": 0, \"r\": 1, \"done\": 2}\n"),
                   &o2, ORL_ERR_INPUT, j1);
    const char *j2[] = {"flag-half.jsonl:1:", "key 'done'", "got 0.5", NULL};
    expect_failure(write_file("flag-half.jsonl", "{\"q\": 1, \"a\": 0, \"r\": 1, \"done\": 0.5}\n"),
                   &o2, ORL_ERR_INPUT, j2);
    const char *j3[] = {"flag-str.jsonl:1:", "key 'done'", "expected true, false, 0 or 1",
                        "a string", NULL};
    expect_failure(
        write_file("flag-str.jsonl", "{\"q\": 1, \"a\": 0, \"r\": 1, \"done\": \"true\"}\n"), &o2,
        ORL_ERR_INPUT, j3);
}

/* through the program: exit 2, the message, and no output file */
Test(ingest, cli_flag_column_done_2) {
    const char *p[] = {"done2-cli.csv:3:9:", "column 'done'", "'2'", NULL};
    cli_rejects(write_file("done2-cli.csv", "q0,a0,r,done\n1,2,3,0\n1.5,2,3,2\n"), "done2.h5",
                "--obs q0 --act a0 --reward r --done done", p);
    const char *pj[] = {"done2-cli.jsonl:1:", "key 'done'", "got -1", NULL};
    cli_rejects(write_file("done2-cli.jsonl", "{\"q\": 1, \"a\": 0, \"r\": 1, \"done\": -1}\n"),
                "done2j.h5", "--obs q --act a --reward r --done done", pj);
}

Test(ingest, episode_gap_splits_on_time) {
    const char *log = write_file("gap.csv", "time,q,a,r\n"
                                            "100.0,1,0,0\n100.1,2,0,0\n100.2,3,0,0\n"
                                            "105.0,4,0,0\n105.1,5,0,0\n"
                                            "1.0,6,0,0\n1.1,7,0,0\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode-gap", "0.5");
    const char *p[] = {"--episode-gap needs a time column", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p);
    map(&opt, "time", "time");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    /* a jump of 4.8 s and time going back start episodes: [1 2 3] [4 5] [6 7] */
    cr_assert_eq(ds->n_episodes, 3);
    cr_assert_eq(ds->n_steps, 4);
    float obs[] = {1, 2, 4, 6};
    for (int t = 0; t < 4; t++) cr_assert_eq(ds->obs[t], obs[t], "obs[%d]", t);
    orl_dataset_free(ds);
}

Test(ingest, next_obs_rule_on_exact_logs) {
    /* episode A ends terminal: every row kept, the last repeats its obs as next_obs;
     * episode B does not: its last row is dropped and the one before gets timeout */
    const char *log = write_file("rule.csv", "ep,q0,q1,a,r,done\n"
                                             "A,0.5,-0.5,1,10,0\n"
                                             "A,1.5,-1.5,2,20,0\n"
                                             "A,2.5,-2.5,3,30,1\n"
                                             "B,3.5,-3.5,4,40,0\n"
                                             "B,4.5,-4.5,5,50,0\n"
                                             "B,5.5,-5.5,6,60,0\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q0,q1");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode", "ep");
    map(&opt, "terminal", "done");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    cr_assert_eq(ds->n_steps, 5);
    cr_assert_eq(ds->n_episodes, 2);
    float obs0[] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f};
    float next0[] = {1.5f, 2.5f, 2.5f, 4.5f, 5.5f};
    float act[] = {1, 2, 3, 4, 5};
    uint8_t term[] = {0, 0, 1, 0, 0}, tout[] = {0, 0, 0, 0, 1};
    for (int t = 0; t < 5; t++) {
        cr_assert_eq(ds->obs[2 * t], obs0[t]);
        cr_assert_eq(ds->obs[2 * t + 1], -obs0[t]);
        cr_assert_eq(ds->next_obs[2 * t], next0[t], "next_obs[%d] = %g", t, ds->next_obs[2 * t]);
        cr_assert_eq(ds->next_obs[2 * t + 1], -next0[t]);
        cr_assert_eq(ds->act[t], act[t]);
        cr_assert_eq(ds->rew[t], 10.0f * act[t]);
        cr_assert_eq(ds->terminal[t], term[t]);
        cr_assert_eq(ds->timeout[t], tout[t]);
        cr_assert(isnan(ds->logp_b[t]));
    }
    cr_assert_eq(rep.dropped_rows, 1);
    cr_assert_eq(ds->h.has_logp, 0);
    orl_dataset_free(ds);
}

Test(ingest, next_obs_columns_keep_every_row) {
    const char *log = write_file("next.csv", "q,nq,a,r,done,logp\n"
                                             "1,2,0,0,0,-0.5\n2,3,0,0,1,-0.25\n"
                                             "4,5,0,0,0,-1\n5,6,0,0,0,-2\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "next-obs", "nq");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    map(&opt, "logp", "logp");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    cr_assert_eq(ds->n_steps, 4);
    cr_assert_eq(rep.dropped_rows, 0);
    float next[] = {2, 3, 5, 6};
    for (int t = 0; t < 4; t++) cr_assert_eq(ds->next_obs[t], next[t]);
    cr_assert_eq(ds->terminal[1], 1);
    cr_assert_eq(ds->timeout[3], 1, "the log's end cuts the last episode");
    cr_assert_eq(ds->h.has_logp, 1);
    cr_assert_eq(ds->logp_b[3], -2.0f);
    orl_dataset_free(ds);

    map(&opt, "next-obs", "nq,logp");
    const char *p[] = {"--next-obs selects 2 columns but --obs selects 1", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p);
}

Test(ingest, discrete_actions) {
    const char *log = write_file("disc.csv", "x,y,action,r,done\n"
                                             "0,0,2,1,0\n0,1,0,1,0\n1,1,3.0,1,1\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "x,y");
    map(&opt, "act", "action");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    map(&opt, "discrete", "true");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    cr_assert_eq(ds->h.action_kind, ORL_ACTION_KIND_DISCRETE);
    cr_assert_null(ds->act);
    cr_assert_eq(ds->act_idx[0], 2);
    cr_assert_eq(ds->act_idx[1], 0);
    cr_assert_eq(ds->act_idx[2], 3);
    orl_dataset_free(ds);

    map(&opt, "n_actions", "3");
    const char *p1[] = {"disc.csv:4:5:", "'action'", "'3.0' is not an integer in [0, 3)", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p1);
    map(&opt, "n_actions", "0");
    const char *frac = write_file("disc-frac.csv", "x,y,action,r,done\n0,0,1.5,1,0\n");
    const char *p2[] = {"disc-frac.csv:2:5:", "not a non-negative integer", NULL};
    expect_failure(frac, &opt, ORL_ERR_INPUT, p2);
    map(&opt, "act", "x,action");
    const char *p3[] = {"--discrete needs one action column", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p3);
}

Test(ingest, declared_bounds_and_discount) {
    const char *log = write_file("bounds.csv", "q0,q1,a0,a1,r,done\n"
                                               "0,0,0.5,-1,1,0\n0,1,1,1,1,0\n1,1,0,0,1,1\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q*");
    map(&opt, "act", "a*");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    map(&opt, "act_low", "-2");
    map(&opt, "act-high", "2, 3");
    map(&opt, "obs_high", "inf");
    map(&opt, "discount", "0.99");
    orl_dataset *ds = ingest_one(log, &opt, NULL);
    cr_assert_eq(ds->h.act_low[0], -2.0f);
    cr_assert_eq(ds->h.act_low[1], -2.0f);
    cr_assert_eq(ds->h.act_high[0], 2.0f);
    cr_assert_eq(ds->h.act_high[1], 3.0f);
    cr_assert(isinf(ds->h.obs_high[1]) && ds->h.obs_high[1] > 0);
    cr_assert(isnan(ds->h.obs_low[0]));
    cr_assert_float_eq(ds->h.discount, 0.99, 1e-12);
    orl_dataset_free(ds);

    map(&opt, "act_high", "1,2,3");
    const char *p1[] = {"act_high: 3 values for 2 mapped dimensions", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p1);
    map(&opt, "act_high", "-3");
    const char *p2[] = {"act_low[0] = -2 is above act_high[0] = -3", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p2);
    map(&opt, "act_high", "2x");
    const char *p3[] = {"act_high: '2x' is not a number", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p3);
    map(&opt, "act_high", "2");
    /* a bad discount is refused when set (the message names the key), and when written into
     * the options directly, at ingest */
    cr_assert_eq(orl_ingest_map_set(&opt, "discount", "1.5"), ORL_ERR_INPUT);
    cr_assert_str_eq(orl_error_message(), "discount: '1.5' is not a number in [0, 1]");
    cr_assert_eq(orl_ingest_map_set(&opt, "discount", " 0.5"), ORL_ERR_INPUT);
    snprintf(opt.discount, sizeof opt.discount, "1.5");
    const char *p4[] = {"discount: '1.5' is not a number in [0, 1]", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p4);
}

Test(ingest, on_nan_drop_episode) {
    const char *log = write_file("nan.csv", "ep,q,a,r\n"
                                            "1,1,0,1\n1,2,0,1\n1,3,0,1\n"
                                            "2,4,0,1\n2,nan,0,1\n2,6,0,1\n"
                                            "3,7,0,1\n3,8,0,1\n"
                                            "4,9,,1\n4,10,0,1\n"
                                            "5,11,0,-inf\n"
                                            "6,12,0,1\n6,13,0,1e999\n");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode", "ep");
    const char *p1[] = {"nan.csv:6:3:", "column 'q'", "'nan'", "drop-episode", NULL};
    expect_failure(log, &opt, ORL_ERR_INPUT, p1);
    map(&opt, "on-nan", "drop-episode");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(log, &opt, &rep);
    /* episodes 2 (nan), 4 (empty cell), 5 (-inf), 6 (1e999 overflows float) dropped */
    cr_assert_eq(ds->n_episodes, 2);
    cr_assert_eq(ds->n_steps, 3);
    float obs[] = {1, 2, 7};
    for (int t = 0; t < 3; t++) cr_assert_eq(ds->obs[t], obs[t]);
    cr_assert_eq(rep.rows_read, 13);
    cr_assert_eq(rep.dropped_episodes, 4);
    cr_assert_eq(rep.dropped_rows, 10);
    cr_assert_eq(rep.bytes_read, 2 * orl_fs_size(log), "two passes");
    orl_dataset_free(ds);

    /* a missing flag is a missing value too: it drops its episode and splits nothing */
    const char *flags = write_file("nan-flag.csv", "q,a,r,done\n"
                                                   "1,0,1,0\n2,0,1,1\n"
                                                   "3,0,1,0\n4,0,1,\n5,0,1,1\n"
                                                   "6,0,1,0\n7,0,1,1\n");
    orl_ingest_options o2 = base_options();
    map(&o2, "obs", "q");
    map(&o2, "act", "a");
    map(&o2, "reward", "r");
    map(&o2, "terminal", "done");
    const char *p2[] = {"nan-flag.csv:5:7:", "column 'done'", "an empty cell", NULL};
    expect_failure(flags, &o2, ORL_ERR_INPUT, p2);
    map(&o2, "on_nan", "drop-episode");
    orl_dataset *d2 = ingest_one(flags, &o2, &rep);
    cr_assert_eq(d2->n_episodes, 2);
    float obs2[] = {1, 2, 6, 7};
    cr_assert_eq(d2->n_steps, 4);
    for (int t = 0; t < 4; t++) cr_assert_eq(d2->obs[t], obs2[t]);
    cr_assert_eq(rep.dropped_rows, 3);
    orl_dataset_free(d2);
}

/* ---- bad input: library messages ---- */

Test(ingest, bad_input_messages) {
    orl_ingest_options opt = base_options();
    ARM_MAP(opt);
    const char *empty = write_file("empty.csv", "");
    const char *p1[] = {"empty.csv: empty file", NULL};
    expect_failure(empty, &opt, ORL_ERR_INPUT, p1);

    const char *header_only = write_file("header-only.csv", "q0,a0,r\n");
    const char *p2[] = {"header-only.csv: no data rows", NULL};
    expect_failure(header_only, &opt, ORL_ERR_INPUT, p2);

    const char *ragged = write_file("ragged.csv", "q0,a0,r\n1,2,3\n1,2\n");
    const char *p3[] = {"ragged.csv:3:4:", "row has 2 fields, the header has 3", "'r'", NULL};
    expect_failure(ragged, &opt, ORL_ERR_INPUT, p3);

    const char *long_row = write_file("long-row.csv", "q0,a0,r\n1,2,3,\"4,5\",6\n");
    const char *p4[] = {"long-row.csv:2:7:", "row has 5 fields, the header has 3", NULL};
    expect_failure(long_row, &opt, ORL_ERR_INPUT, p4);

    const char *text = write_file("text.csv", "q0,a0,r\n1,2,3\n1,2 3,3\n");
    const char *p5[] = {"text.csv:3:3:", "column 'a0'", "expected a number, got '2 3'", NULL};
    expect_failure(text, &opt, ORL_ERR_INPUT, p5);

    const char *quote = write_file("quote.csv", "q0,a0,r\n1,2,3\n1,\"2,3\n4,5,6\n");
    const char *p6[] = {"quote.csv:3:3:", "column 'a0'", "unterminated quote", NULL};
    expect_failure(quote, &opt, ORL_ERR_INPUT, p6);

    const char *after = write_file("after.csv", "q0,a0,r\n1,\"2\"x,3\n");
    const char *p7[] = {"after.csv:2:6:", "after the closing quote", NULL};
    expect_failure(after, &opt, ORL_ERR_INPUT, p7);

    const char *cols = write_file("cols.csv", "q0,a0,reward_total\n1,2,3\n");
    const char *p8[] = {"cols.csv: no column matches 'r' (--reward)",
                        "the columns are: q0, a0, reward_total", NULL};
    expect_failure(cols, &opt, ORL_ERR_INPUT, p8);

    orl_ingest_options none = base_options();
    map(&none, "obs", "q*");
    map(&none, "act", "a*");
    const char *p9[] = {"no reward column", NULL};
    expect_failure(cols, &none, ORL_ERR_INPUT, p9);
    map(&none, "reward", "none");
    orl_dataset *ds = ingest_one(write_file("norew.csv", "q0,a0\n1,2\n3,4\n"), &none, NULL);
    cr_assert_eq(ds->rew[0], 0.0f);
    orl_dataset_free(ds);

    /* every log's header is checked before any row is read */
    const char *good = write_file("good.csv", "q0,a0,r\n1,2,3\n");
    const char *other = write_file("other.csv", "q1,a0,r\n1,2,3\n");
    const char *logs[] = {good, other};
    orl_dataset *out = NULL;
    cr_assert_eq(orl_ingest_dataset(logs, 2, &opt, NULL, &out, NULL), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "other.csv: --obs selects other columns"), "%s",
                       orl_error_message());
    const char *missing_file = scratch("no-such-log.csv");
    const char *p10[] = {"no-such-log.csv: cannot open", NULL};
    expect_failure(missing_file, &opt, ORL_ERR_IO, p10);
}

/* ---- bad input: the command line ---- */

Test(ingest, cli_bad_input_exit_2_and_no_output) {
    const char *map_args = "--obs 'q*' --act 'a*' --reward r";
    const char *p1[] = {"empty-cli.csv: empty file", NULL};
    cli_rejects(write_file("empty-cli.csv", ""), "empty.h5", map_args, p1);
    /* a bad row far into the log: the writer has already started the output */
    char *big = malloc(1 << 20);
    size_t k = (size_t)sprintf(big, "q0,a0,r,note\n");
    for (int i = 0; i < 20000; i++) k += (size_t)sprintf(big + k, "%d.25,0.5,1,x\n", i);
    sprintf(big + k, "1,2\n");
    const char *p2[] = {"ragged-cli.csv:20002:4:", "row has 2 fields, the header has 4", NULL};
    cli_rejects(write_file("ragged-cli.csv", big), "ragged.h5", map_args, p2);
    cli_rejects(write_file("ragged-cli.csv", big), "ragged.sqlite", map_args, p2);
    free(big);
    const char *p3[] = {"nn-cli.csv:3:5:", "column 'a0'", "'abc'", NULL};
    cli_rejects(write_file("nn-cli.csv", "q0,a0,r\n1,2,3\n1.5,abc,3\n"), "nn.h5", map_args, p3);
    const char *p4[] = {"nan-cli.csv:3:1:", "column 'q0'", "'NaN'", NULL};
    cli_rejects(write_file("nan-cli.csv", "q0,a0,r\n1,2,3\nNaN,2,3\n"), "nan.h5", map_args, p4);
    const char *p5[] = {"cols-cli.csv: no column matches 'a*' (--act)", "q0, b0, r", NULL};
    cli_rejects(write_file("cols-cli.csv", "q0,b0,r\n1,2,3\n"), "cols.h5", map_args, p5);
    const char *p6[] = {"quote-cli.csv:2:1:", "unterminated quote", NULL};
    cli_rejects(write_file("quote-cli.csv", "q0,a0,r\n\"1,2,3\n"), "quote.h5", map_args, p6);
    const char *p7[] = {"json-cli.jsonl:2:11:", "invalid JSON", NULL};
    cli_rejects(
        write_file("json-cli.jsonl", "{\"q\": 1, \"a\": 2, \"r\": 3}\n{\"q\": 1 \"a\": 2}\n"),
        "json.h5", "--obs q --act a --reward r", p7);
    const char *p8[] = {"unknown option '--bogus'", NULL};
    cli_rejects(write_file("ok-cli.csv", "q0,a0,r\n1,2,3\n"), "bogus.h5", "--bogus", p8);
    const char *p9[] = {"no-map.map: cannot open the mapping file", NULL};
    cli_rejects(scratch("ok-cli.csv"), "nomap.h5", "--map " SCRATCH "/no-map.map", p9);
}

Test(ingest, cli_writes_hdf5_and_sqlite_with_map_file) {
    const char *log = write_file("cli-ok.csv", "t,ep,q0,q1,a0,r,done\n"
                                               "0.0,0,0.125,1,0.5,1,0\n"
                                               "0.1,0,0.25,2,0.5,1,0\n"
                                               "0.2,0,0.375,3,0.5,1,1\n"
                                               "0.0,1,0.5,4,0.5,1,0\n"
                                               "0.1,1,0.625,5,0.5,1,0\n");
    const char *m = write_file("cli-ok.map", "obs = q*\nact = a0\nreward = r\nepisode = ep\n"
                                             "terminal = done\nenv_id = arm-v0\n");
    const char *exts[] = {"h5", "sqlite"};
    for (int i = 0; i < 2; i++) {
        char name[64], cmd[8192];
        snprintf(name, sizeof name, "cli-ok.%s", exts[i]);
        const char *out = scratch(name);
        remove(out);
        snprintf(cmd, sizeof cmd,
                 "'%s' ingest '%s' -o '%s' --map '%s' --behavior=teleop --json >'%s.json'", ORL,
                 log, out, m, out);
        cr_assert_eq(run(cmd), 0, "%s", cmd);
        char json_path[4200];
        snprintf(json_path, sizeof json_path, "%s.json", out);
        char *report = slurp(json_path);
        cr_assert_not_null(strstr(report, "\"steps\":4,\"episodes\":2,\"dropped_rows\":1"), "%s",
                           report);
        free(report);
        orl_dataset *ds = NULL;
        cr_assert_eq(orl_dataset_read(out, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(ds->n_steps, 4);
        cr_assert_eq(ds->n_episodes, 2);
        cr_assert_eq(ds->obs[2 * 3], 0.5f);
        cr_assert_eq(ds->next_obs[2 * 1 + 1], 3.0f);
        cr_assert_eq(ds->terminal[2], 1);
        cr_assert_eq(ds->timeout[3], 1);
        cr_assert_str_eq(ds->h.env_id, "arm-v0");
        cr_assert_str_eq(ds->h.behavior, "teleop");
        cr_assert_str_eq(ds->h.source, "cli-ok.csv");
        orl_dataset_free(ds);
    }
}

Test(ingest, sqlite_append) {
    const char *log = write_file("append.csv", "q,a,r,done\n1,0,1,0\n2,0,1,1\n");
    const char *out = scratch("append.sqlite");
    remove(out);
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    map(&opt, "append", "true");
    const char *logs[] = {log};
    /* the same log twice (a retry): its episode is recognised and not added again */
    orl_ingest_report rep;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(orl_ingest(logs, 1, out, &opt, NULL, &rep), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(rep.already_present, i);
    }
    const char *other[] = {write_file("append-2.csv", "q,a,r,done\n3,0,1,0\n4,0,1,1\n")};
    cr_assert_eq(orl_ingest(other, 1, out, &opt, NULL, &rep), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(rep.already_present, 0);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(out, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_episodes, 2);
    cr_assert_eq(ds->n_steps, 4);
    orl_dataset_free(ds);

    /* a failed append leaves the database as it was, though blocks had been written */
    char *big = malloc(1 << 20);
    size_t k = (size_t)sprintf(big, "q,a,r,done\n");
    for (int i = 0; i < 20000; i++) k += (size_t)sprintf(big + k, "%d,0,1,%d\n", i, i % 100 == 99);
    sprintf(big + k, "1,2\n");
    const char *bad[] = {write_file("append-bad.csv", big)};
    free(big);
    cr_assert_eq(orl_ingest(bad, 1, out, &opt, NULL, NULL), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "append-bad.csv:20002:4:"), "%s",
                       orl_error_message());
    cr_assert_eq(orl_dataset_read(out, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(ds->n_episodes, 2);
    cr_assert_eq(ds->n_steps, 4);
    orl_dataset_free(ds);

    /* an HDF5 output would be replaced, not appended to */
    cr_assert_eq(orl_ingest(logs, 1, scratch("append.h5"), &opt, NULL, NULL), ORL_ERR_INPUT);
    cr_assert_not_null(strstr(orl_error_message(), "appending works only for SQLite outputs"));
}

static int stop_at_once(void *ctx, int64_t done, int64_t total, const char *what) {
    (void)done, (void)total, (void)what;
    return ++*(int *)ctx >= 2;
}

Test(ingest, interrupt_leaves_no_output) {
    char *big = malloc(1 << 21);
    size_t k = (size_t)sprintf(big, "q,a,r\n");
    for (int i = 0; i < 100000; i++) k += (size_t)sprintf(big + k, "%d,1,2\n", i);
    const char *log = write_file("interrupt.csv", big);
    free(big);
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    const char *outs[] = {"interrupt.h5", "interrupt.sqlite"};
    for (int i = 0; i < 2; i++) {
        const char *out = scratch(outs[i]);
        remove(out);
        int calls = 0;
        orl_progress progress = {stop_at_once, &calls};
        const char *logs[] = {log};
        cr_assert_eq(orl_ingest(logs, 1, out, &opt, &progress, NULL), ORL_ERR_INTERRUPTED);
        cr_assert_eq(orl_fs_exists(out), 0);
        cr_assert_eq(temp_left(outs[i]), 0);
    }
}

/* ---- streaming ---- */

/* a log much longer than the read buffer and the blocks: rows cut by every buffer end, held
 * rows at every block end; the result must not depend on the block size */
Test(ingest, streaming_blocks_and_buffers) {
    const char *path = scratch("stream.csv");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fprintf(f, "ep,\"q0\",q1,note,a,r,done\r\n");
    int rows = 60000;
    for (int i = 0; i < rows; i++) {
        int ep = i / 777;
        fprintf(f, "%d,%d.%03d,\"%d\",\"text, \"\"quoted\"\"\nacross lines\",%g,%d,%d\r\n", ep, i,
                i % 1000, -i, i * 0.5, i % 3, i % 777 == 776 && ep % 2 == 0);
    }
    fclose(f);
    cr_assert_gt(orl_fs_size(path), 3 << 20, "bigger than the read buffer");
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q0,q1");
    map(&opt, "act", "a");
    map(&opt, "reward", "r");
    map(&opt, "episode", "ep");
    map(&opt, "terminal", "done");
    orl_ingest_report rep;
    orl_dataset *ds = ingest_one(path, &opt, &rep);
    int eps = (rows + 776) / 777;
    cr_assert_eq(ds->n_episodes, eps);
    /* odd episodes (and the last, cut short) end without terminal and lose a row */
    int dropped = 0;
    for (int e = 0; e < eps; e++) dropped += !(e % 2 == 0 && (e + 1) * 777 <= rows);
    cr_assert_eq(rep.dropped_rows, dropped);
    cr_assert_eq(ds->n_steps, rows - dropped);
    /* every row's values, by the row number the obs carries */
    for (int64_t t = 0; t < ds->n_steps; t++) {
        int i = (int)(-ds->obs[2 * t + 1]);
        char text[32];
        snprintf(text, sizeof text, "%d.%03d", i, i % 1000);
        cr_assert_eq(ds->obs[2 * t], f32(text), "row %d", i);
        cr_assert_eq(ds->act[t], (float)(i * 0.5));
        cr_assert_eq(ds->rew[t], (float)(i % 3));
        cr_assert_eq(ds->next_obs[2 * t + 1], ds->terminal[t] ? -(float)i : -(float)(i + 1));
    }
    opt.block_rows = 4;
    orl_dataset *small = ingest_one(path, &opt, NULL);
    cr_assert_eq(small->n_steps, ds->n_steps);
    cr_assert_eq(small->n_episodes, ds->n_episodes);
    size_t n = (size_t)ds->n_steps;
    cr_assert_eq(memcmp(small->obs, ds->obs, 2 * n * sizeof(float)), 0);
    cr_assert_eq(memcmp(small->next_obs, ds->next_obs, 2 * n * sizeof(float)), 0);
    cr_assert_eq(memcmp(small->terminal, ds->terminal, n), 0);
    cr_assert_eq(memcmp(small->timeout, ds->timeout, n), 0);
    orl_dataset_free(small);
    orl_dataset_free(ds);
}

/* ---- numbers ---- */

static void check_parse(const char *text) {
    float got = -12345.0f;
    int ok = orl_ingest_parse_float(text, strlen(text), &got);
    cr_assert(ok, "'%s' not parsed", text);
    float want = strtof(text, NULL);
    uint32_t a, b;
    memcpy(&a, &got, 4);
    memcpy(&b, &want, 4);
    cr_assert_eq(a, b, "'%s': %08x (%.9g), strtof %08x (%.9g)", text, a, (double)got, b,
                 (double)want);
}

Test(ingest, float_parser_matches_strtof) {
    uint64_t seed = 20240611;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 7);
    char text[128];
    int n_random = 300000, double_rounding = 0;
    for (int k = 0; k < n_random; k++) {
        /* 1..21 significant digits, a decimal point anywhere, sometimes an exponent */
        int digits = 1 + (int)orl_rng_below(&rng, k % 4 == 0 ? 21 : 12);
        int point = (int)orl_rng_below(&rng, (uint32_t)digits + 2) - 1;
        size_t at = 0;
        if (orl_rng_below(&rng, 2)) text[at++] = '-';
        for (int d = 0; d < digits; d++) {
            if (d == point) text[at++] = '.';
            text[at++] = (char)('0' + orl_rng_below(&rng, 10));
        }
        if (point == digits) text[at++] = '.';
        if (orl_rng_below(&rng, 3) == 0)
            at += (size_t)sprintf(text + at, "e%d", (int)orl_rng_range(&rng, -50, 45));
        text[at] = '\0';
        if (strcmp(text, ".") == 0 || strcmp(text, "-.") == 0) continue;
        check_parse(text);
    }
    /* exact float midpoints: integers and short fractions (the fast path must defer to strtof)
     * and their neighbours */
    for (int k = 0; k < 20000; k++) {
        uint64_t odd = ((UINT64_C(1) << 24) + orl_rng_below(&rng, 1u << 24)) * 2 + 1;
        int shift = (int)orl_rng_range(&rng, -10, 10);
        double mid = ldexp((double)odd, shift);
        int places = shift < 0 ? -shift : 0;
        sprintf(text, "%.*f", places, mid);
        check_parse(text);
        sprintf(text, "%.*e", 7, mid);
        check_parse(text);
        double up = nextafter(mid, INFINITY), down = nextafter(mid, 0);
        sprintf(text, "%.25g", up);
        check_parse(text);
        sprintf(text, "%.25g", down);
        check_parse(text);
        /* the exact decimal of a random float midpoint, long enough for the slow path */
        float f = (float)ldexp(1.0 + orl_rng_uniform(&rng), (int)orl_rng_range(&rng, -120, 120));
        double m2 = ((double)f + (double)nextafterf(f, INFINITY)) / 2;
        sprintf(text, "%.60g", m2);
        check_parse(text);
        /* 15 and 16 digits near a midpoint: often not the midpoint, yet their nearest double
         * is; rounding that double to float would then be wrong half the time */
        float g = (float)ldexp(1.0 + orl_rng_uniform(&rng), (int)orl_rng_range(&rng, -20, 120));
        double m3 = ((double)g + (double)nextafterf(g, INFINITY)) / 2;
        for (int digits = 14; digits <= 15; digits++) {
            sprintf(text, "%.*e", digits, m3);
            check_parse(text);
            double d = strtod(text, NULL);
            if (d == m3 && strtof(text, NULL) != (float)d) double_rounding++;
        }
    }
    /* the cases the fast path must hand to strtof did occur */
    cr_assert_gt(double_rounding, 100, "only %d double-rounding cases", double_rounding);
    const char *special[] = {"0",
                             "-0",
                             "0.0",
                             "+1",
                             "1.",
                             ".5",
                             "-.5",
                             "1e0",
                             "1E+2",
                             "3.4028235e38",
                             "3.4028236e38",
                             "1e39",
                             "1e-46",
                             "1.4e-45",
                             "1.17549435e-38",
                             "16777217",
                             "16777216.5",
                             "0.000000000000000000000000001",
                             "123456789012345678901234567890",
                             "nan",
                             "-NaN",
                             "inf",
                             "-Infinity",
                             "9007199254740993",
                             "1.00000005960464477539062500000000001",
                             NULL};
    for (int i = 0; special[i]; i++) check_parse(special[i]);
    const char *rejected[] = {"",    " 1", "1 ", "abc", "1e",   "1.2.3", "0x10", "1,5",
                              "--1", "+",  ".",  "e5",  "nan1", "1e+",   "- 1",  NULL};
    for (int i = 0; rejected[i]; i++) {
        float v;
        cr_assert_eq(orl_ingest_parse_float(rejected[i], strlen(rejected[i]), &v), 0, "'%s'",
                     rejected[i]);
    }
    cr_log_info("float parser: %d random strings, seed %llu", n_random, (unsigned long long)seed);
}

/* CSV -> dataset (memory and HDF5) -> the float32 of every decimal in the log */
Test(ingest, round_trip_decimal_values) {
    orl_rng rng;
    orl_rng_seed(&rng, 99, 1);
    const char *path = scratch("round.csv");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fprintf(f, "q0,q1,q2,a0,a1,r,done\n");
    int rows = 5000;
    char(*cells)[7][40] = malloc(sizeof(char[5000][7][40]));
    for (int i = 0; i < rows; i++) {
        for (int c = 0; c < 6; c++) {
            double v =
                (orl_rng_uniform(&rng) - 0.5) * pow(10.0, (double)orl_rng_range(&rng, -8, 8));
            const char *fmt[] = {"%.6f", "%.9g", "%.17g", "%.3e"};
            snprintf(cells[i][c], 40, fmt[orl_rng_below(&rng, 4)], v);
        }
        snprintf(cells[i][6], 40, "%d", i % 50 == 49);
        fprintf(f, "%s,%s,%s,%s,%s,%s,%s\n", cells[i][0], cells[i][1], cells[i][2], cells[i][3],
                cells[i][4], cells[i][5], cells[i][6]);
    }
    fclose(f);
    orl_ingest_options opt = base_options();
    map(&opt, "obs", "q*");
    map(&opt, "act", "a*");
    map(&opt, "reward", "r");
    map(&opt, "terminal", "done");
    orl_dataset *mem = ingest_one(path, &opt, NULL);
    cr_assert_eq(mem->n_steps, rows);
    const char *out = scratch("round.h5");
    remove(out);
    const char *logs[] = {path};
    cr_assert_eq(orl_ingest(logs, 1, out, &opt, NULL, NULL), ORL_OK, "%s", orl_error_message());
    orl_dataset *file = NULL;
    cr_assert_eq(orl_dataset_read(out, NULL, NULL, &file), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(file->n_steps, rows);
    orl_dataset *sets[] = {mem, file};
    for (int s = 0; s < 2; s++) {
        orl_dataset *ds = sets[s];
        for (int i = 0; i < rows; i++) {
            for (int c = 0; c < 3; c++) {
                cr_assert_eq(ds->obs[3 * i + c], f32(cells[i][c]), "row %d obs %d '%s'", i, c,
                             cells[i][c]);
                if (i % 50 != 49) cr_assert_eq(ds->next_obs[3 * i + c], f32(cells[i + 1][c]));
            }
            cr_assert_eq(ds->act[2 * i], f32(cells[i][3]));
            cr_assert_eq(ds->act[2 * i + 1], f32(cells[i][4]));
            cr_assert_eq(ds->rew[i], f32(cells[i][5]));
        }
    }
    orl_dataset_free(mem);
    orl_dataset_free(file);
    free(cells);
}
