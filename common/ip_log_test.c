/* ip_log_test.c — JSON lines: every line parses, fields are typed, strings
 * are escaped (control characters, quotes, invalid UTF-8), levels filter. */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "ip_log.h"
#include "ip_testing.h"

static void write_lines(void *unused)
{
    (void)unused;
    ip_log_init("log-test", IP_LOG_INFO);
    ip_log(IP_LOG_DEBUG, "hidden.debug", IP_LS("x", "y"));
    ip_log(IP_LOG_INFO, "job.done", IP_LS("image_id", "abc"), IP_LI("ms", 12), IP_LF("ratio", 0.5),
           IP_LB("ok", 1), IP_LS("none", NULL), IP_LF("nan", NAN));
    ip_log(IP_LOG_WARN, "escape.me",
           IP_LS("s", "quote\" backslash\\ nl\n tab\t bell\x07 bad\xff\xfe end"));
    char big[10000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ip_log(IP_LOG_ERROR, "big.line", IP_LS("big", big));
}

static void test_json_lines(void)
{
    char *out = ip_test_capture_stderr(write_lines, NULL);
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(l, 0, &e);
        if (j == NULL) {
            fprintf(stderr, "not JSON: %s (%s)\n", l, e.text);
            CHECK(0);
        }
        CHECK(json_is_string(json_object_get(j, "ts")));
        CHECK_EQ_STR(json_string_value(json_object_get(j, "service")), "log-test");
        const char *ev = json_string_value(json_object_get(j, "event"));
        CHECK(ev != NULL && strcmp(ev, "hidden.debug") != 0);
        if (strcmp(ev, "job.done") == 0) {
            CHECK_EQ_STR(json_string_value(json_object_get(j, "level")), "info");
            CHECK_EQ_INT(json_integer_value(json_object_get(j, "ms")), 12);
            CHECK(json_real_value(json_object_get(j, "ratio")) == 0.5);
            CHECK(json_is_true(json_object_get(j, "ok")));
            CHECK(json_is_null(json_object_get(j, "none")));
            CHECK(json_is_null(json_object_get(j, "nan")));
        } else if (strcmp(ev, "escape.me") == 0) {
            const char *s = json_string_value(json_object_get(j, "s"));
            CHECK(strstr(s, "quote\" backslash\\ nl\n tab\t bell\x07 bad") == s);
            CHECK(strstr(s, "\xef\xbf\xbd") != NULL);
        } else {
            CHECK_EQ_STR(ev, "big.line");
            CHECK_EQ_INT(strlen(json_string_value(json_object_get(j, "big"))), 9999);
        }
        json_decref(j);
        lines++;
    }
    CHECK_EQ_INT(lines, 3);
    free(out);
}

static void test_levels(void)
{
    ip_log_level l;
    CHECK(ip_log_level_parse("debug", &l) && l == IP_LOG_DEBUG);
    CHECK(ip_log_level_parse("warn", &l) && l == IP_LOG_WARN);
    CHECK(ip_log_level_parse("error", &l) && l == IP_LOG_ERROR);
    CHECK(!ip_log_level_parse("loud", &l));
    CHECK(!ip_log_level_parse(NULL, &l));
    ip_log_init("x", IP_LOG_WARN);
    CHECK(!ip_log_enabled(IP_LOG_INFO));
    CHECK(ip_log_enabled(IP_LOG_ERROR));
}

static const ip_test_case tests[] = {IP_TEST(json_lines), IP_TEST(levels)};
IP_TEST_MAIN(tests)
