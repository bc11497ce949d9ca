/* stor_testing.h — the checks shared by storage-svc's test programs.
 *
 * A failed check prints where and what, counts in stor_test_failures and lets
 * the test go on, so one run reports every broken expectation of a test (the
 * S3 tests clean up their objects after the checks). stor_test_main runs a
 * table of tests, one by name or all, and exits 1 when any check failed, 2 on
 * an unknown name. Included by test programs only, once each.
 */
#ifndef STOR_TESTING_H
#define STOR_TESTING_H

#include <stdio.h>
#include <string.h>

#include "ip_status.h"

static int stor_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            stor_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

/* `errtext`: the message the failing call left, printed beside the statuses. */
#define CHECK_ST(got, want, errtext)                                                               \
    do {                                                                                           \
        ip_status g_ = (got), w_ = (want);                                                         \
        if (g_ != w_) {                                                                            \
            fprintf(stderr, "%s:%d: status %s, want %s (%s)\n", __FILE__, __LINE__,                \
                    ip_strerror(g_), ip_strerror(w_), (errtext));                                  \
            stor_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (!g_ || strcmp(g_, w_) != 0) {                                                          \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,                \
                    g_ ? g_ : "(null)", w_);                                                       \
            stor_test_failures++;                                                                  \
        }                                                                                          \
    } while (0)

typedef struct stor_test_case {
    const char *name;
    void (*fn)(void);
} stor_test_case;

/* Runs tests[i] named by argv[1], or all of them without an argument. */
static inline int stor_test_main(int argc, char **argv, const stor_test_case *tests, size_t n)
{
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        tests[i].fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    if (stor_test_failures) {
        fprintf(stderr, "%d check(s) failed\n", stor_test_failures);
        return 1;
    }
    return 0;
}

#endif
