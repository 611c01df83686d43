/* LeakSanitizer suppressions for test binaries that open HDF5 files: libhdf5 keeps some of its
 * own allocations (about 17 KB on its error paths over corrupt files) until exit. Include in
 * one file of the binary. */
#ifndef ORL_TESTS_LSAN_HDF5_H
#define ORL_TESTS_LSAN_HDF5_H

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libhdf5\n";
}

#endif
