/* ip_testing.h — the one test harness of every C test in the project
 * (test code only; unit and integration tests alike).
 *
 * A test file defines its tests as `static void test_name(void)` and lists
 * them in a table with IP_TEST(name); IP_TEST_MAIN(table) runs the one named
 * by argv[1] (ctest registers one entry per name) or all of them without an
 * argument.
 *
 * Two kinds of check, as in most harnesses:
 *  - CHECK*: the test cannot go on when it fails (a NULL it would use, a
 *    server that did not start). Prints file, line and expression and ends
 *    the process with status 1.
 *  - EXPECT*: one expectation among several. Prints the same, counts the
 *    failure and lets the test go on (so it reports every broken expectation
 *    and still cleans up what it made); the run then exits 1.
 * The _ST forms compare ip_status values and print their names and the
 * message the failing call left; _EQ_INT and _EQ_STR print both values;
 * CHECKF/EXPECTF(cond, fmt, ...) add a printf-style explanation (the
 * library's error text, the HTTP status that came back).
 */
#ifndef IP_TESTING_H
#define IP_TESTING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ip_status.h"

/* Failed EXPECTs so far in this process. */
static int ip_test_failures;

/* How a failed check ends: fatal (exit 1) or counted. */
#define IP_TEST_FAIL_(fatal)                                                                       \
    do {                                                                                           \
        if (fatal)                                                                                 \
            exit(1);                                                                               \
        ip_test_failures++;                                                                        \
    } while (0)

#define IP_TEST_TRUE_(cond, fatal)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__,                          \
                    (fatal) ? "CHECK" : "EXPECT", #cond);                                          \
            IP_TEST_FAIL_(fatal);                                                                  \
        }                                                                                          \
    } while (0)

/* As IP_TEST_TRUE_, with a printf-style explanation (what the library said). */
#define IP_TEST_TRUEF_(cond, fatal, ...)                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s: ", __FILE__, __LINE__,                          \
                    (fatal) ? "CHECK" : "EXPECT", #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            IP_TEST_FAIL_(fatal);                                                                  \
        }                                                                                          \
    } while (0)

#define IP_TEST_EQ_INT_(a, b, fatal)                                                               \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__,     \
                    (fatal) ? "CHECK" : "EXPECT", #a, #b, a_, b_);                                 \
            IP_TEST_FAIL_(fatal);                                                                  \
        }                                                                                          \
    } while (0)

#define IP_TEST_EQ_STR_(a, b, fatal)                                                               \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            fprintf(stderr, "%s:%d: %s failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, \
                    (fatal) ? "CHECK" : "EXPECT", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
            IP_TEST_FAIL_(fatal);                                                                  \
        }                                                                                          \
    } while (0)

/* `errtext`: the message the failing call left, printed beside the statuses. */
#define IP_TEST_ST_(got, want, errtext, fatal)                                                     \
    do {                                                                                           \
        ip_status g_ = (got), w_ = (want);                                                         \
        if (g_ != w_) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s is %s, want %s (%s)\n", __FILE__, __LINE__,      \
                    (fatal) ? "CHECK" : "EXPECT", #got, ip_strerror(g_), ip_strerror(w_),          \
                    (errtext));                                                                    \
            IP_TEST_FAIL_(fatal);                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK(cond) IP_TEST_TRUE_(cond, 1)
#define CHECKF(cond, ...) IP_TEST_TRUEF_(cond, 1, __VA_ARGS__)
#define CHECK_EQ_INT(a, b) IP_TEST_EQ_INT_(a, b, 1)
#define CHECK_EQ_STR(a, b) IP_TEST_EQ_STR_(a, b, 1)
#define CHECK_ST(got, want, errtext) IP_TEST_ST_(got, want, errtext, 1)

#define EXPECT(cond) IP_TEST_TRUE_(cond, 0)
#define EXPECTF(cond, ...) IP_TEST_TRUEF_(cond, 0, __VA_ARGS__)
#define EXPECT_EQ_INT(a, b) IP_TEST_EQ_INT_(a, b, 0)
#define EXPECT_EQ_STR(a, b) IP_TEST_EQ_STR_(a, b, 0)
#define EXPECT_ST(got, want, errtext) IP_TEST_ST_(got, want, errtext, 0)

typedef struct ip_test_case {
    const char *name;
    void (*fn)(void);
} ip_test_case;

#define IP_TEST(name)                                                                              \
    {                                                                                              \
#name, test_##name                                                                         \
    }

static inline int ip_test_main(int argc, char **argv, const ip_test_case *tests, size_t n)
{
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        int before = ip_test_failures;
        fprintf(stderr, "--- %s\n", tests[i].name);
        tests[i].fn();
        if (ip_test_failures != before)
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
        return 2;
    }
    if (ip_test_failures) {
        fprintf(stderr, "%d expectation(s) failed in %d test(s)\n", ip_test_failures, ran);
        return 1;
    }
    fprintf(stderr, "ok (%d)\n", ran);
    return 0;
}

/* The whole content of f from its start, NUL-terminated; owned by the caller.
 * Closes f. */
static inline char *ip_test_read_file(FILE *f)
{
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n >= 0);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return buf;
}

/* What fn(arg) writes on stderr (file descriptor 2, so ip_log lines too);
 * owned by the caller. */
static inline char *ip_test_capture_stderr(void (*fn)(void *), void *arg)
{
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return ip_test_read_file(tmp);
}

#define IP_TEST_MAIN(table)                                                                        \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return ip_test_main(argc, argv, table, sizeof(table) / sizeof((table)[0]));                \
    }

#endif
