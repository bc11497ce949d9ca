/*
 * infra_env.h — configuration for the infra tests: an IP_* variable from the
 * environment (scripts/test exports .env.example and .env), else the default
 * of .env.example, so a test run by hand against the default stack works too.
 * Also a monotonic clock for deadlines and a unique suffix for names, so the
 * tests never depend on an empty database, topic or bucket. The checks are
 * common/ip_testing.h's, as in every C test.
 */
#ifndef INFRA_ENV_H
#define INFRA_ENV_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Returns the variable's value, or def when unset or empty. Borrowed. */
static inline const char *infra_env(const char *name, const char *def)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : def;
}

/* Milliseconds on the monotonic clock. */
static inline int64_t infra_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes "<prefix>-<pid>-<ns>" into buf: unique per run. */
static inline void infra_unique(char *buf, size_t len, const char *prefix)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, len, "%s-%ld-%lld%09ld", prefix, (long)getpid(), (long long)ts.tv_sec,
             ts.tv_nsec);
}

#endif
