/* The library's version, for programs and bindings that link it (the same string as
 * `orl --version` and the version recorded in policy, model and dataset files). */
#ifndef ORL_VERSION_H
#define ORL_VERSION_H

/* "MAJOR.MINOR.PATCH" of the library in use */
const char *orl_version(void);

#endif
