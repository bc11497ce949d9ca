/* ip_rpc_close_test.c — ip_rpc_run_bounded: a teardown that returns is waited
 * for and reported done; one that never returns (as nng_close does when nng
 * 1.5.2's reaper is stuck) is given up on after the bound, and the caller gets
 * on with its exit while the teardown stays blocked in its helper thread.
 * Plus ip_rpc_close_bounded on a real socket. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "ip_log.h"
#include "ip_rpc.h"
#include "ip_testing.h"
#include "ip_time.h"

static atomic_int ran;

static void quick(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void test_returns(void)
{
    atomic_store(&ran, 0);
    CHECK(ip_rpc_run_bounded(quick, NULL, "quick"));
    CHECK_EQ_INT(atomic_load(&ran), 1);

    nng_socket s;
    CHECK_EQ_INT(nng_req0_open(&s), 0);
    CHECK(ip_rpc_close_bounded(s, "req"));
    /* closed for real: the socket no longer takes options */
    CHECK(nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50) == NNG_ECLOSED);
}

static sem_t release;
static sem_t finished;

static void blocked(void *arg)
{
    (void)arg;
    sem_wait(&release);
    sem_post(&finished);
}

static void test_stuck(void)
{
    sem_init(&release, 0, 0);
    sem_init(&finished, 0, 0);
    int64_t t0 = ip_mono_ms();
    CHECK(!ip_rpc_run_bounded(blocked, NULL, "stuck"));
    int64_t waited = ip_mono_ms() - t0;
    /* the documented bound (10 s), not forever */
    CHECK(waited >= 10000 && waited < 60000);
    /* the teardown is still blocked; let it end so the process exits clean */
    sem_post(&release);
    sem_wait(&finished);
    sem_destroy(&release);
    sem_destroy(&finished);
}

static const ip_test_case tests[] = {IP_TEST(returns), IP_TEST(stuck)};

int main(int argc, char **argv)
{
    ip_log_init("ip_rpc_close_test", IP_LOG_ERROR);
    return ip_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
