/* gw_test.h — a tiny table-driven test harness for the gateway's unit tests. */
#ifndef GW_TEST_H
#define GW_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int gw_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            gw_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

typedef struct gw_test_case {
    const char *name;
    void (*fn)(void);
} gw_test_case;

static inline int gw_test_run(const gw_test_case *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int before = gw_test_failures;
        t[i].fn();
        printf("%s %s\n", gw_test_failures == before ? "ok  " : "FAIL", t[i].name);
    }
    return gw_test_failures ? 1 : 0;
}

#endif
