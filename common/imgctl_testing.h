/* imgctl_testing.h — runs the imgctl binary for its tests (test code only).
 *
 * The path of the binary comes in IMGCTL (set by ctest). The child inherits
 * the test's environment, so a test sets IP_* variables with setenv() first.
 */
#ifndef IMGCTL_TESTING_H
#define IMGCTL_TESTING_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ip_testing.h"

/* Runs `imgctl ARGS` (ARGS as a shell would split them); returns its exit
 * status, with its stdout in *out and its stderr in *err (owned; free()). */
static int imgctl_run(const char *args, char **out, char **err)
{
    const char *imgctl = getenv("IMGCTL");
    CHECK(imgctl != NULL);
    char errpath[] = "/tmp/imgctl-test-XXXXXX";
    int efd = mkstemp(errpath);
    CHECK(efd >= 0);
    close(efd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>%s", imgctl, args, errpath);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t cap = 1 << 20, n = 0;
    *out = calloc(1, cap);
    CHECK(*out != NULL);
    size_t r;
    while ((r = fread(*out + n, 1, cap - n - 1, p)) > 0)
        n += r;
    int status = pclose(p);
    FILE *e = fopen(errpath, "r");
    CHECK(e != NULL);
    *err = calloc(1, cap);
    CHECK(*err != NULL);
    n = fread(*err, 1, cap - 1, e);
    fclose(e);
    unlink(errpath);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Runs imgctl with the arguments of `fmt` (printf-style) and expects exit
 * status `rc`, and `out_has` within its stdout and `err_has` within its stderr
 * (each unless NULL). Counted checks (EXPECT) that print what came out. */
static void imgctl_expect(int rc, const char *out_has, const char *err_has, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void imgctl_expect(int rc, const char *out_has, const char *err_has, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out, *err;
    int got = imgctl_run(args, &out, &err);
    EXPECTF(got == rc && (out_has == NULL || strstr(out, out_has) != NULL) &&
                (err_has == NULL || strstr(err, err_has) != NULL),
            "imgctl %s: exit %d (want %d), stdout:\n%s\nstderr:\n%s\n(want \"%s\" / \"%s\")", args,
            got, rc, out, err, out_has ? out_has : "", err_has ? err_has : "");
    free(out);
    free(err);
}

#endif
