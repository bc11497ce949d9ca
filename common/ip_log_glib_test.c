/* ip_log_glib_test.c — GLib messages arrive as ip_log JSON lines. */
#include <glib.h>

#include "ip_log.h"
#include "ip_testing.h"

static void log_glib(void *unused)
{
    (void)unused;
    g_warning("something odd: %d", 42);
    g_log("VIPS", G_LOG_LEVEL_MESSAGE, "a \"quoted\" message");
    g_log("VIPS", G_LOG_LEVEL_INFO, "a step of an operation");
}

static void test_routed(void)
{
    ip_log_init("glib-test", IP_LOG_DEBUG);
    ip_log_route_glib();
    ip_log_route_glib(); /* twice is harmless */
    char *buf = ip_test_capture_stderr(log_glib, NULL);
    fprintf(stderr, "%s", buf);
    CHECK(strstr(buf, "\"level\":\"warn\",\"service\":\"glib-test\",\"event\":\"glib.log\"") !=
          NULL);
    CHECK(strstr(buf, "\"msg\":\"something odd: 42\"") != NULL);
    CHECK(strstr(buf, "\"domain\":\"VIPS\",\"msg\":\"a \\\"quoted\\\" message\"") != NULL);
    /* MESSAGE is info; INFO (libvips's per-step chatter) is debug. */
    CHECK(strstr(buf, "\"level\":\"info\",\"service\":\"glib-test\",\"event\":\"glib.log\","
                      "\"domain\":\"VIPS\",\"msg\":\"a \\\"quoted") != NULL);
    CHECK(strstr(buf, "\"level\":\"debug\",\"service\":\"glib-test\",\"event\":\"glib.log\","
                      "\"domain\":\"VIPS\",\"msg\":\"a step of an operation\"") != NULL);
    free(buf);
}

static const ip_test_case tests[] = {IP_TEST(routed)};
IP_TEST_MAIN(tests)
