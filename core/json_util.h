/* What every room that writes JSON (with jansson) shares. */
#ifndef ORL_CORE_JSON_UTIL_H
#define ORL_CORE_JSON_UTIL_H

#include <jansson.h>
#include <math.h>

/* x as a JSON number, or null where x is NaN or infinite (JSON has no such numbers) */
static inline json_t *orl_json_number(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

#endif
