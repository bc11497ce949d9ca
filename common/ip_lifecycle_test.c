/* ip_lifecycle_test.c — shutdown signals are collected by ip_lifecycle_wait,
 * in order, and a quiet wait times out. */
#include <signal.h>
#include <unistd.h>

#include "ip_lifecycle.h"
#include "ip_testing.h"
#include "ip_time.h"

static void test_signals(void)
{
    ip_lifecycle_init();
    int64_t t0 = ip_mono_ms();
    CHECK_EQ_INT(ip_lifecycle_wait(50), 0);
    CHECK(ip_mono_ms() - t0 >= 40);
    kill(getpid(), SIGTERM);
    CHECK_EQ_INT(ip_lifecycle_wait(1000), SIGTERM);
    raise(SIGHUP);
    CHECK_EQ_INT(ip_lifecycle_wait(-1), SIGHUP);
    /* SIGPIPE is ignored: writing to a closed pipe is an error, not death. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    close(fds[0]);
    CHECK(write(fds[1], "x", 1) == -1);
    close(fds[1]);
}

static const ip_test_case tests[] = {IP_TEST(signals)};
IP_TEST_MAIN(tests)
