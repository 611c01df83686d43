/* bench/export: a policy exported as C (orl policy export --c) in a control loop. A
 * tanh-Gaussian MLP policy at CORL's shapes (obs 17, 256x256, act 6; random parameters, seed
 * 1) is exported, compiled with the project's C compiler at -O2 (portable) and at -O3
 * -march=native, and its NAME_act timed one observation at a time, beside orl_policy_act with
 * a batch of 1 (the library, OpenBLAS, one thread). Prints one JSON line: source bytes, object
 * code and data bytes (size(1)), nanoseconds per call. Usage: export [--hidden H] [--calls N] */
#include "orl/orl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* compiles the driver with flags, runs it, reads "ns text data" from its output */
static int run_driver(const char *dir, const char *flags, long calls, double *ns, long *text,
                      long *data) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s -std=c99 %s -o %s/driver %s/driver.c -lm && %s -std=c99 %s -c -o %s/policy.o "
             "%s/policy.c",
             ORL_C_COMPILER, flags, dir, dir, ORL_C_COMPILER, flags, dir, dir);
    if (system(cmd) != 0) return 1;
    snprintf(cmd, sizeof cmd, "%s/driver %ld && size %s/policy.o | tail -1", dir, calls, dir);
    FILE *p = popen(cmd, "r");
    if (!p) return 1;
    int ok = fscanf(p, "%lf %ld %ld", ns, text, data) == 3;
    return pclose(p) != 0 || !ok;
}

int main(int argc, char **argv) {
    int hidden = 256;
    long calls = 200000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hidden") == 0 && i + 1 < argc)
            hidden = atoi(argv[++i]);
        else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            calls = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: export [--hidden H] [--calls N]\n");
            return 2;
        }
    }
    openblas_set_num_threads(1);
    enum { S = 17, A = 6 };
    float lo[A], hi[A];
    for (int j = 0; j < A; j++) lo[j] = -1.0f, hi[j] = 1.0f;
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "iql";
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = ORL_POLICY_HEAD_TANH_GAUSSIAN;
    spec.mlp.n_layers = 3;
    spec.mlp.widths[0] = S;
    spec.mlp.widths[1] = hidden;
    spec.mlp.widths[2] = hidden;
    spec.mlp.widths[3] = 2 * A;
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.log_std_min = -5.0f;
    spec.log_std_max = 2.0f;
    orl_rng rng;
    orl_rng_seed(&rng, 1, 0);
    orl_policy *p = NULL;
    if (orl_policy_mlp_create(&spec, NULL, NULL, &rng, &p) != ORL_OK) return 2;
    const char *dir = ORL_BINARY_DIR "/tmp-bench-export";
    mkdir(dir, 0755);
    char src[512], drv[512];
    snprintf(src, sizeof src, "%s/policy.c", dir);
    snprintf(drv, sizeof drv, "%s/driver.c", dir);
    if (orl_policy_export_c(p, "policy", src) != ORL_OK) {
        fprintf(stderr, "export: %s\n", orl_error_message());
        return 2;
    }
    FILE *f = fopen(drv, "w");
    if (!f) return 2;
    fprintf(f, "#define _POSIX_C_SOURCE 199309L\n#include \"policy.c\"\n#include "
               "<stdio.h>\n#include <stdlib.h>\n#include <time.h>\n"
               "int main(int argc, char **argv) {\n"
               "    long n = atol(argv[1]);\n"
               "    float obs[policy_OBS_DIM] = {0}, act[policy_ACT_DIM];\n"
               "    struct timespec t0, t1;\n"
               "    double sink = 0;\n"
               "    clock_gettime(CLOCK_MONOTONIC, &t0);\n"
               "    for (long i = 0; i < n; i++) {\n"
               "        obs[i %% policy_OBS_DIM] = (float)(i %% 7) * 0.1f;\n"
               "        policy_act(obs, act);\n"
               "        sink += act[0];\n"
               "    }\n"
               "    clock_gettime(CLOCK_MONOTONIC, &t1);\n"
               "    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - "
               "t0.tv_nsec);\n"
               "    printf(\"%%.1f \", s / (double)n * 1e9 + 0.0 * sink);\n"
               "    return 0;\n"
               "}\n");
    fclose(f);
    double ns_o2, ns_native;
    long text, data, text_n, data_n;
    if (run_driver(dir, "-O2", calls, &ns_o2, &text, &data) ||
        run_driver(dir, "-O3 -march=native", calls, &ns_native, &text_n, &data_n)) {
        fprintf(stderr, "export: compiling or running the driver failed\n");
        return 2;
    }
    /* the library at batch 1 */
    orl_policy_work *w = NULL;
    if (orl_policy_work_create(p, 1, &w) != ORL_OK) return 2;
    float obs[S] = {0}, act[A];
    long n = calls / 4;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        obs[i % S] = (float)(i % 7) * 0.1f;
        orl_policy_act(p, w, obs, 1, ORL_POLICY_MODE_MEAN, NULL, act, NULL);
    }
    double lib_ns = (now() - t0) / (double)n * 1e9;
    struct stat stt;
    stat(src, &stt);
    printf("{\"bench\":\"export\",\"hidden\":%d,\"obs\":%d,\"act\":%d,\"params\":%lld,"
           "\"source_bytes\":%lld,\"object_text_bytes\":%ld,\"object_data_bytes\":%ld,"
           "\"ns_per_call_O2\":%.1f,\"ns_per_call_O3_native\":%.1f,"
           "\"orl_policy_act_ns_batch1\":%.1f}\n",
           hidden, S, A, (long long)orl_policy_mlp_network(p)->n_params, (long long)stt.st_size,
           text, data, ns_o2, ns_native, lib_ns);
    orl_policy_work_free(w);
    orl_policy_free(p);
    return 0;
}
