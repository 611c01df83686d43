/* The library's version string (CMake's project version, passed as ORL_VERSION). */
#include "orl/version.h"

#ifndef ORL_VERSION
#define ORL_VERSION "unknown"
#endif

const char *orl_version(void) { return ORL_VERSION; }
