/* ip_config_test.c — the configuration table loader: types, bounds, defaults,
 * every error reported together, secrets masked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "ip_config.h"
#include "ip_log.h"
#include "ip_testing.h"

typedef struct cfg {
    char *url;
    char *secret;
    char *required;
    int64_t workers;
    bool flag;
} cfg;

static const ip_cfg_var table[] = {
    {"IPT_URL", IP_CFG_STRING, "tcp://127.0.0.1:1", 0, 0, false, offsetof(cfg, url), "an address"},
    {"IPT_SECRET", IP_CFG_STRING, "local-secret", 0, 0, true, offsetof(cfg, secret), "a key"},
    {"IPT_REQUIRED", IP_CFG_STRING, NULL, 0, 0, false, offsetof(cfg, required), "must be set"},
    {"IPT_WORKERS", IP_CFG_INT, "32", 1, 256, false, offsetof(cfg, workers), "threads"},
    {"IPT_FLAG", IP_CFG_BOOL, "false", 0, 0, false, offsetof(cfg, flag), "a switch"},
};
#define N (sizeof table / sizeof table[0])

static void clear_env(void)
{
    for (size_t i = 0; i < N; i++)
        unsetenv(table[i].name);
}

static void test_defaults(void)
{
    clear_env();
    setenv("IPT_REQUIRED", "x", 1);
    cfg c = {0};
    char *err = NULL;
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_OK);
    CHECK(err == NULL);
    CHECK_EQ_STR(c.url, "tcp://127.0.0.1:1");
    CHECK_EQ_STR(c.secret, "local-secret");
    CHECK_EQ_STR(c.required, "x");
    CHECK_EQ_INT(c.workers, 32);
    CHECK(!c.flag);
    ip_config_free(table, N, &c);
    CHECK(c.url == NULL && c.secret == NULL && c.required == NULL);
}

static void test_values(void)
{
    clear_env();
    setenv("IPT_URL", "ipc:///tmp/x", 1);
    setenv("IPT_REQUIRED", "y", 1);
    setenv("IPT_WORKERS", "256", 1);
    setenv("IPT_FLAG", "YES", 1);
    cfg c = {0};
    CHECK_EQ_INT(ip_config_load(table, N, &c, NULL), IP_OK);
    CHECK_EQ_STR(c.url, "ipc:///tmp/x");
    CHECK_EQ_INT(c.workers, 256);
    CHECK(c.flag);
    setenv("IPT_WORKERS", "1", 1);
    setenv("IPT_FLAG", "off", 1);
    /* Loading again over a loaded struct replaces (and frees) the strings. */
    CHECK_EQ_INT(ip_config_load(table, N, &c, NULL), IP_OK);
    CHECK_EQ_INT(c.workers, 1);
    CHECK(!c.flag);
    ip_config_free(table, N, &c);
}

static void test_all_errors_reported(void)
{
    clear_env();
    setenv("IPT_WORKERS", "0", 1);  /* below min */
    setenv("IPT_FLAG", "maybe", 1); /* not a bool */
    /* IPT_REQUIRED unset */
    cfg c = {0};
    char *err = NULL;
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_INVALID_ARGUMENT);
    CHECK(err != NULL);
    fprintf(stderr, "%s", err);
    CHECK(strstr(err, "IPT_REQUIRED") != NULL);
    CHECK(strstr(err, "IPT_WORKERS") != NULL);
    CHECK(strstr(err, "IPT_FLAG") != NULL);
    CHECK(strstr(err, "IPT_URL") == NULL);
    int lines = 0;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    CHECK_EQ_INT(lines, 3);
    free(err);
    ip_config_free(table, N, &c);

    setenv("IPT_REQUIRED", "", 1); /* empty is not set */
    setenv("IPT_WORKERS", "12abc", 1);
    setenv("IPT_FLAG", "1", 1);
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_INVALID_ARGUMENT);
    CHECK(strstr(err, "IPT_REQUIRED") != NULL);
    CHECK(strstr(err, "not an integer") != NULL);
    free(err);
    setenv("IPT_WORKERS", "99999999999999999999999", 1);
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_INVALID_ARGUMENT);
    free(err);
    setenv("IPT_WORKERS", " 5", 1);
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_INVALID_ARGUMENT);
    free(err);
    setenv("IPT_WORKERS", "257", 1);
    CHECK_EQ_INT(ip_config_load(table, N, &c, &err), IP_INVALID_ARGUMENT);
    CHECK(strstr(err, "out of range") != NULL);
    free(err);
    ip_config_free(table, N, &c);
}

static void log_cfg(void *arg)
{
    ip_config_log(table, N, arg);
}

static void test_secrets_masked(void)
{
    clear_env();
    setenv("IPT_REQUIRED", "z", 1);
    setenv("IPT_SECRET", "hunter2-very-secret", 1);
    cfg c = {0};
    CHECK_EQ_INT(ip_config_load(table, N, &c, NULL), IP_OK);
    ip_log_init("config-test", IP_LOG_INFO);
    char *out = ip_test_capture_stderr(log_cfg, &c);
    fprintf(stderr, "%s", out);
    CHECK(strstr(out, "\"event\":\"config.loaded\"") != NULL);
    CHECK(strstr(out, "hunter2") == NULL);
    CHECK(strstr(out, "\"IPT_SECRET\":\"***\"") != NULL);
    CHECK(strstr(out, "\"IPT_WORKERS\":32") != NULL);
    CHECK(strstr(out, "\"IPT_URL\":\"tcp://127.0.0.1:1\"") != NULL);
    free(out);
    ip_config_free(table, N, &c);

    /* A bad secret value is not echoed in the error report either. */
    static const ip_cfg_var secret_int[] = {
        {"IPT_SECRET_N", IP_CFG_INT, "1", 0, 10, true, offsetof(cfg, workers), "a secret number"},
    };
    setenv("IPT_SECRET_N", "hunter2", 1);
    char *err = NULL;
    CHECK_EQ_INT(ip_config_load(secret_int, 1, &c, &err), IP_INVALID_ARGUMENT);
    CHECK(strstr(err, "hunter2") == NULL);
    free(err);
    unsetenv("IPT_SECRET_N");
}

static void test_print_vars(void)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    ip_config_print_vars(f, table, N);
    char *buf = ip_test_read_file(f);
    fprintf(stderr, "%s", buf);
    CHECK(strstr(buf, "IPT_URL=tcp://127.0.0.1:1  # an address\n") != NULL);
    CHECK(strstr(buf, "IPT_REQUIRED=  # must be set (required)") != NULL);
    CHECK(strstr(buf, "IPT_WORKERS=32  # threads [1..256]") != NULL);
    free(buf);
}

typedef struct svc_cfg {
    int64_t workers;
    char *log_level;
} svc_cfg;

static const ip_cfg_var svc_table[] = {
    {"IPT_WORKERS", IP_CFG_INT, "32", 1, 256, false, offsetof(svc_cfg, workers), "threads"},
    {"IP_LOG_LEVEL", IP_CFG_STRING, "info", 0, 0, false, offsetof(svc_cfg, log_level), "level"},
};
#define SVC_N (sizeof svc_table / sizeof svc_table[0])

typedef struct start_run {
    bool ok;
} start_run;

static void run_start(void *arg)
{
    start_run *r = arg;
    svc_cfg c = {0};
    r->ok = ip_config_start(svc_table, SVC_N, &c, "ipt-service");
    ip_config_free(svc_table, SVC_N, &c);
}

/* A service's start: the values are logged under its name at the configured
 * level; a bad level or value is "config.invalid" and false. */
static void test_start(void)
{
    start_run r = {0};
    unsetenv("IPT_WORKERS");
    setenv("IP_LOG_LEVEL", "warn", 1);
    char *out = ip_test_capture_stderr(run_start, &r);
    EXPECT(r.ok);
    EXPECT(strstr(out, "config.loaded") == NULL); /* logged at info, below warn */
    free(out);

    setenv("IP_LOG_LEVEL", "debug", 1);
    out = ip_test_capture_stderr(run_start, &r);
    EXPECT(r.ok);
    EXPECT(strstr(out, "\"service\":\"ipt-service\"") && strstr(out, "config.loaded"));
    free(out);

    setenv("IP_LOG_LEVEL", "loud", 1);
    out = ip_test_capture_stderr(run_start, &r);
    EXPECT(!r.ok);
    EXPECT(strstr(out, "config.invalid") && strstr(out, "IP_LOG_LEVEL"));
    free(out);

    setenv("IP_LOG_LEVEL", "info", 1);
    setenv("IPT_WORKERS", "0", 1);
    out = ip_test_capture_stderr(run_start, &r);
    EXPECT(!r.ok);
    EXPECT(strstr(out, "config.invalid") && strstr(out, "IPT_WORKERS"));
    free(out);
    unsetenv("IPT_WORKERS");
    unsetenv("IP_LOG_LEVEL");
}

static const ip_test_case tests[] = {
    IP_TEST(defaults),       IP_TEST(values),     IP_TEST(all_errors_reported),
    IP_TEST(secrets_masked), IP_TEST(print_vars), IP_TEST(start),
};
IP_TEST_MAIN(tests)
