/* orl ingest (being written). */
#include "cli/cli.h"

int cmd_ingest(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("ingest", "not available yet");
}
