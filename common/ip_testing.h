/* ip_testing.h — the small harness of the unit tests (test code only).
 *
 * A test file defines its tests as `static void test_name(void)` and lists
 * them in a table with IP_TEST(name); main() runs the one named by argv[1]
 * (ctest registers one entry per name) or all of them without an argument.
 * CHECK failures print the file, line and expression and end the process
 * with status 1, so one failed test is one failed ctest entry.
 */
#ifndef IP_TESTING_H
#define IP_TESTING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

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
        fprintf(stderr, "--- %s\n", tests[i].name);
        tests[i].fn();
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
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
