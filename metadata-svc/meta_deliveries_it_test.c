/* meta_deliveries_it_test.c — integration tests of metadata-svc's webhook
 * deliveries against the real PostgreSQL: claims (order per subscription and
 * image, concurrent claimers), outcomes (delivered, retry, failed past the
 * horizon), DeleteWebhook cancelling, ResendDelivery and the delivery log.
 *
 * Run as `meta_deliveries_it_test <name>` (ctest: metadata-svc.webhooks.<name>);
 * the harness and how the tests reach the database are in meta_webhooks_it.h.
 * Deliveries are made the way the service makes them (an image failing or
 * turning ready); times are moved in SQL where a test needs a horizon passed
 * or a row due at once.
 */
#include "meta_webhooks_it.h"

/* ------------------------------------------------------------- claims */

static void test_claim_order(void)
{
    char sub[IP_UUID_STRLEN + 1], secret[IP_WEBHOOK_SECRET_MAX], a[IP_UUID_STRLEN + 1],
        b[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, secret);
    /* Image a: failed, retried, ready, deleted: three deliveries in order. */
    new_image(a, "");
    CHECK(fail_image(a, "first try") == IP_OK);
    Imageproc__RetryImageRequest rr = IMAGEPROC__RETRY_IMAGE_REQUEST__INIT;
    rr.id = a;
    Imageproc__RetryImageReply *rrep = NULL;
    CHECK(RPC(retry_image, &rr, &rrep) == IP_OK);
    msg_free(rrep);
    CHECK(finish_ready(a) == IP_OK);
    CHECK(delete_image(a, false) == IP_OK);
    /* Image b: ready, written after a's. */
    new_image(b, "");
    CHECK(finish_ready(b) == IP_OK);

    /* Only the first of a's is due; b's is independent. */
    Imageproc__ClaimDeliveriesReply *c = claim(10, 60000);
    CHECK(c->n_deliveries == 2);
    const Imageproc__WebhookDelivery *d0 = c->deliveries[0], *d1 = c->deliveries[1];
    EXPECT(strcmp(d0->image_id, a) == 0 && d0->event == FAILED);
    EXPECT(strcmp(d1->image_id, b) == 0 && d1->event == READY);
    EXPECT(d0->attempts == 1 && d0->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    EXPECT(d0->last_attempt_at_us > 0 && d0->next_attempt_at_us > ip_now_us() + 50000000);
    EXPECT_EQ_STR(d0->url, "http://127.0.0.1:9/hook");
    EXPECT_EQ_STR(d0->secret, secret);
    EXPECT_EQ_STR(d0->subscription_id, sub);
    PGresult *r = sql("SELECT body FROM webhook_deliveries WHERE id = '%s'", d0->id);
    EXPECT_EQ_STR(d0->body, PQgetvalue(r, 0, 0));
    PQclear(r);
    char first[IP_WEBHOOK_ID_MAX], bid[IP_WEBHOOK_ID_MAX];
    snprintf(first, sizeof(first), "%s", d0->id);
    snprintf(bid, sizeof(bid), "%s", d1->id);
    msg_free(c);

    /* While claimed nothing more is handed out. */
    c = claim(10, 60000);
    EXPECT_EQ_INT(c->n_deliveries, 0);
    msg_free(c);

    /* The first fails and is due again in 1 s: a's later ones still wait,
     * and after the second the first comes back (a second attempt). */
    CHECK(finish_delivery(first, false, 503, "HTTP 503", 1000, 86400000, NULL) == IP_OK);
    CHECK(finish_delivery(bid, true, 200, "", 0, 0, NULL) == IP_OK);
    c = claim(10, 60000);
    EXPECT_EQ_INT(c->n_deliveries, 0);
    msg_free(c);
    int64_t deadline = ip_mono_ms() + 10000;
    for (;;) {
        c = claim(10, 60000);
        if (c->n_deliveries > 0 || ip_mono_ms() > deadline)
            break;
        msg_free(c);
        usleep(100 * 1000);
    }
    CHECK(c->n_deliveries == 1);
    EXPECT_EQ_STR(c->deliveries[0]->id, first);
    EXPECT_EQ_INT(c->deliveries[0]->attempts, 2);
    EXPECT_EQ_INT(c->deliveries[0]->last_status, 503);
    msg_free(c);

    /* Delivered: then the next of a's, then the last. */
    const Imageproc__WebhookEvent want[] = {READY, DELETED};
    CHECK(finish_delivery(first, true, 204, "", 0, 0, NULL) == IP_OK);
    for (int i = 0; i < 2; i++) {
        c = claim(10, 60000);
        CHECK(c->n_deliveries == 1);
        EXPECT(strcmp(c->deliveries[0]->image_id, a) == 0 && c->deliveries[0]->event == want[i]);
        EXPECT_EQ_INT(c->deliveries[0]->attempts, 1);
        CHECK(finish_delivery(c->deliveries[0]->id, true, 200, "", 0, 0, NULL) == IP_OK);
        msg_free(c);
    }
    c = claim(10, 60000);
    EXPECT_EQ_INT(c->n_deliveries, 0);
    msg_free(c);

    /* A claim that runs out (a dispatcher that died) hands the row out again. */
    char e[IP_UUID_STRLEN + 1];
    new_image(e, "");
    CHECK(fail_image(e, "x") == IP_OK);
    c = claim(10, 1000);
    CHECK(c->n_deliveries == 1);
    char lost[IP_WEBHOOK_ID_MAX];
    snprintf(lost, sizeof(lost), "%s", c->deliveries[0]->id);
    msg_free(c);
    deadline = ip_mono_ms() + 10000;
    for (;;) {
        c = claim(10, 60000);
        if (c->n_deliveries > 0 || ip_mono_ms() > deadline)
            break;
        msg_free(c);
        usleep(100 * 1000);
    }
    CHECK(c->n_deliveries == 1);
    EXPECT_EQ_STR(c->deliveries[0]->id, lost);
    EXPECT_EQ_INT(c->deliveries[0]->attempts, 2);
    msg_free(c);
}

#define RACE_IMAGES 60
#define RACE_THREADS 4

typedef struct claimer {
    char ids[RACE_IMAGES * 2][IP_WEBHOOK_ID_MAX];
    int n;
    ip_status st;
} claimer;

static pthread_barrier_t race_start;

/* Claims (a few at a time, on a client of its own, once every claimer's
 * client answers) until nothing is left. */
static void *claim_thread(void *arg)
{
    claimer *cl = arg;
    ip_rpc_client *c = NULL;
    ip_rpc_client_opts co = {.urls = rpc_url, .timeout_ms = 10000};
    cl->st = ip_rpc_client_new(&imageproc__metadata__descriptor, &co, &c);
    int64_t deadline = ip_mono_ms() + 10000;
    while (cl->st == IP_OK && ip_rpc_ping(c, 1000) != IP_OK)
        if (ip_mono_ms() > deadline)
            cl->st = IP_UNAVAILABLE;
    pthread_barrier_wait(&race_start);
    for (; cl->st == IP_OK;) {
        Imageproc__ClaimDeliveriesRequest req = IMAGEPROC__CLAIM_DELIVERIES_REQUEST__INIT;
        req.limit = 3;
        req.claim_ms = 600000;
        Imageproc__ClaimDeliveriesReply *rep = NULL;
        if ((cl->st = ip_metadata_claim_deliveries(c, &req, &rep, NULL, NULL, 0)) != IP_OK)
            break;
        size_t n = rep->n_deliveries;
        for (size_t i = 0; i < n && cl->n < RACE_IMAGES * 2; i++)
            snprintf(cl->ids[cl->n++], IP_WEBHOOK_ID_MAX, "%s", rep->deliveries[i]->id);
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        if (n == 0)
            break;
    }
    ip_rpc_client_free(c);
    return NULL;
}

static void test_claim_concurrent(void)
{
    char sub[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    for (int i = 0; i < RACE_IMAGES; i++) {
        new_image(id, "");
        CHECK(fail_image(id, "x") == IP_OK);
    }
    CHECK(sql_int("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'") ==
          RACE_IMAGES);
    static claimer cl[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    pthread_barrier_init(&race_start, NULL, RACE_THREADS);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_create(&th[i], NULL, claim_thread, &cl[i]);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&race_start);
    /* Every delivery handed out exactly once, across all claimers. */
    int total = 0;
    for (int i = 0; i < RACE_THREADS; i++) {
        EXPECT_ST(cl[i].st, IP_OK, "claim");
        total += cl[i].n;
        for (int j = 0; j < cl[i].n; j++)
            for (int k = i; k < RACE_THREADS; k++)
                for (int m = (k == i ? j + 1 : 0); m < cl[k].n; m++)
                    EXPECTF(strcmp(cl[i].ids[j], cl[k].ids[m]) != 0, "%s handed out twice",
                            cl[i].ids[j]);
    }
    EXPECT_EQ_INT(total, RACE_IMAGES);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE attempts = 1"),
                  RACE_IMAGES);

    /* Rows another claimer holds are passed over at once, not waited for. */
    PQclear(sql("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second',"
                " attempts = 0"));
    PGconn *other = pg_connect(test_dsn);
    PGresult *r = PQexec(other, "BEGIN");
    PQclear(r);
    r = PQexec(other, "SELECT id FROM webhook_deliveries ORDER BY seq LIMIT 5 FOR UPDATE");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 5);
    int64_t t0 = ip_mono_ms();
    Imageproc__ClaimDeliveriesReply *c = claim(100, 60000);
    EXPECT(ip_mono_ms() - t0 < 5000);
    EXPECT_EQ_INT(c->n_deliveries, RACE_IMAGES - 5);
    for (size_t i = 0; i < c->n_deliveries; i++)
        for (int j = 0; j < 5; j++)
            EXPECTF(strcmp(c->deliveries[i]->id, PQgetvalue(r, j, 0)) != 0,
                    "%s was locked by another claimer", PQgetvalue(r, j, 0));
    msg_free(c);
    PQclear(r);
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    c = claim(100, 60000);
    EXPECT_EQ_INT(c->n_deliveries, 5);
    msg_free(c);
}

/* ------------------------------------------------------------- outcomes */

static void test_finish(void)
{
    char sub[IP_UUID_STRLEN + 1], a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1],
        c[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_image(a, "");
    new_image(b, "");
    new_image(c, "");
    CHECK(fail_image(a, "x") == IP_OK);
    CHECK(fail_image(b, "x") == IP_OK);
    CHECK(fail_image(c, "x") == IP_OK);
    Imageproc__ClaimDeliveriesReply *cl = claim(10, 60000);
    CHECK(cl->n_deliveries == 3);
    msg_free(cl);
    char da[IP_WEBHOOK_ID_MAX], db_[IP_WEBHOOK_ID_MAX], dc[IP_WEBHOOK_ID_MAX];
    delivery_id_of(a, "image.failed", da);
    delivery_id_of(b, "image.failed", db_);
    delivery_id_of(c, "image.failed", dc);

    /* Delivered. */
    Imageproc__FinishDeliveryReply *f = NULL;
    CHECK(finish_delivery(da, true, 204, "ignored", 0, 0, &f) == IP_OK);
    const Imageproc__WebhookDelivery *d = f->delivery;
    EXPECT(d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_DELIVERED);
    EXPECT(d->delivered_at_us > 0 && d->next_attempt_at_us == 0);
    EXPECT(d->last_status == 204 && d->last_error[0] == '\0' && d->last_duration_ms == 42);
    EXPECT(d->body[0] == '\0' && d->url[0] == '\0' && d->secret[0] == '\0');
    msg_free(f);
    /* A late repeat (another attempt's failure) changes nothing. */
    CHECK(finish_delivery(da, false, 500, "late", 1000, 86400000, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_DELIVERED &&
           f->delivery->last_status == 204);
    msg_free(f);

    /* Not delivered, within the horizon: pending, due after retry_after. A
     * long error is kept cut to 500 bytes; bytes that are not UTF-8 become '?'. */
    char longerr[800];
    memset(longerr, 'e', sizeof(longerr) - 1);
    longerr[0] = '\xff';
    longerr[sizeof(longerr) - 1] = '\0';
    int64_t before = ip_now_us();
    CHECK(finish_delivery(db_, false, 0, longerr, 30000, 86400000, &f) == IP_OK);
    d = f->delivery;
    EXPECT(d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    EXPECT(d->next_attempt_at_us >= before + 29000000 && d->next_attempt_at_us < before + 40000000);
    EXPECT_EQ_INT(d->last_status, 0);
    EXPECT_EQ_INT(strlen(d->last_error), 500);
    EXPECT(d->last_error[0] == '?' && d->last_error[1] == 'e');
    EXPECT(d->delivered_at_us == 0);
    msg_free(f);
    cl = claim(10, 60000);
    EXPECT_EQ_INT(cl->n_deliveries, 0); /* not yet due */
    msg_free(cl);

    /* Past the horizon: failed. Its horizon started 2 minutes ago; one
     * more minute's retry would end after a 2-minute horizon. */
    PQclear(sql("UPDATE webhook_deliveries SET horizon_from = now() - interval '2 minutes',"
                " created_at = now() - interval '2 minutes' WHERE id = '%s'",
                dc));
    CHECK(finish_delivery(dc, false, 500, "HTTP 500", 1000, 180000, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    msg_free(f);
    CHECK(finish_delivery(dc, false, 500, "HTTP 500", 60001, 180000, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED);
    EXPECT(f->delivery->next_attempt_at_us == 0 && f->delivery->last_status == 500);
    EXPECT_EQ_STR(f->delivery->last_error, "HTTP 500");
    msg_free(f);
    /* Failed stays failed, and is never handed out. */
    CHECK(finish_delivery(dc, true, 200, "", 0, 0, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_FAILED);
    msg_free(f);
    PQclear(sql("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 hour'"));
    cl = claim(10, 60000);
    EXPECT(cl->n_deliveries == 1 && strcmp(cl->deliveries[0]->id, db_) == 0);
    msg_free(cl);

    /* Unknown and malformed ids; bad settings. */
    EXPECT(finish_delivery("msg_00000000000000000000000000000000", true, 200, "", 0, 0, NULL) ==
           IP_NOT_FOUND);
    EXPECT_BAD(finish_delivery("msg_x", true, 200, "", 0, 0, NULL), "id");
    EXPECT_BAD(finish_delivery(db_, false, 500, "", 10, 86400000, NULL), "retry_after_ms");
    EXPECT_BAD(finish_delivery(db_, false, 500, "", 1000, 1000, NULL), "horizon_ms");
    EXPECT_BAD(finish_delivery(db_, true, 500, "", 0, 0, NULL), "status");
    Imageproc__ClaimDeliveriesRequest creq = IMAGEPROC__CLAIM_DELIVERIES_REQUEST__INIT;
    Imageproc__ClaimDeliveriesReply *crep = NULL;
    creq.limit = 0;
    creq.claim_ms = 30000;
    EXPECT_BAD(RPC(claim_deliveries, &creq, &crep), "limit");
    creq.limit = 10;
    creq.claim_ms = 10;
    EXPECT_BAD(RPC(claim_deliveries, &creq, &crep), "claim_ms");
    msg_free(crep);
}

/* ------------------------------------------------------------- subscriptions */

static void test_delete_cancels(void)
{
    char sub[IP_UUID_STRLEN + 1], other[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_webhook(other, "", false, NULL, 0, NULL);
    char ids[3][IP_UUID_STRLEN + 1];
    for (int i = 0; i < 3; i++) {
        new_image(ids[i], "");
        CHECK(fail_image(ids[i], "x") == IP_OK);
    }
    /* One of sub's is in flight (claimed), one failed once and waits. */
    Imageproc__ClaimDeliveriesReply *c = claim(100, 60000);
    CHECK(c->n_deliveries == 6);
    char inflight[IP_WEBHOOK_ID_MAX] = "", waiting[IP_WEBHOOK_ID_MAX] = "";
    for (size_t i = 0; i < c->n_deliveries; i++) {
        const Imageproc__WebhookDelivery *d = c->deliveries[i];
        if (strcmp(d->subscription_id, sub) != 0)
            CHECK(finish_delivery(d->id, true, 200, "", 0, 0, NULL) == IP_OK);
        else if (inflight[0] == '\0')
            snprintf(inflight, sizeof(inflight), "%s", d->id);
        else if (waiting[0] == '\0')
            snprintf(waiting, sizeof(waiting), "%s", d->id);
        else
            CHECK(finish_delivery(d->id, true, 200, "", 0, 0, NULL) == IP_OK);
    }
    msg_free(c);
    CHECK(finish_delivery(waiting, false, 500, "HTTP 500", 1000, 86400000, NULL) == IP_OK);

    Imageproc__DeleteWebhookRequest dr = IMAGEPROC__DELETE_WEBHOOK_REQUEST__INIT;
    dr.id = sub;
    Imageproc__DeleteWebhookReply *drep = NULL;
    CHECK(RPC(delete_webhook, &dr, &drep) == IP_OK);
    EXPECT_EQ_INT(drep->cancelled, 2);
    msg_free(drep);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = '%s'"
                          " AND state = 'cancelled'",
                          sub),
                  2);
    /* Gone from Get, List and a second Delete. */
    Imageproc__GetWebhookRequest gr = IMAGEPROC__GET_WEBHOOK_REQUEST__INIT;
    gr.id = sub;
    Imageproc__GetWebhookReply *grep = NULL;
    EXPECT(RPC(get_webhook, &gr, &grep) == IP_NOT_FOUND);
    msg_free(grep);
    EXPECT(RPC(delete_webhook, &dr, &drep) == IP_NOT_FOUND);
    msg_free(drep);
    Imageproc__ListWebhooksRequest lr = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
    lr.all = true;
    Imageproc__ListWebhooksReply *lrep = NULL;
    CHECK(RPC(list_webhooks, &lr, &lrep) == IP_OK);
    EXPECT(lrep->n_subscriptions == 1 && strcmp(lrep->subscriptions[0]->id, other) == 0);
    msg_free(lrep);

    /* The in-flight attempt finishing late changes nothing; nothing is due. */
    Imageproc__FinishDeliveryReply *f = NULL;
    CHECK(finish_delivery(inflight, false, 500, "HTTP 500", 1000, 86400000, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_CANCELLED);
    msg_free(f);
    CHECK(finish_delivery(inflight, true, 200, "", 0, 0, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_CANCELLED);
    msg_free(f);
    PQclear(sql("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 hour'"));
    c = claim(100, 60000);
    EXPECT_EQ_INT(c->n_deliveries, 0);
    msg_free(c);
    /* Resending one of its deliveries: NOT_FOUND. */
    Imageproc__ResendDeliveryRequest rs = IMAGEPROC__RESEND_DELIVERY_REQUEST__INIT;
    rs.subscription_id = sub;
    rs.id = inflight;
    Imageproc__ResendDeliveryReply *rsrep = NULL;
    EXPECT(RPC(resend_delivery, &rs, &rsrep) == IP_NOT_FOUND);
    msg_free(rsrep);
    /* New changes are for the other subscription only. */
    new_image(id, "");
    CHECK(fail_image(id, "x") == IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 1);
    EXPECT_EQ_INT(deliveries_of(id, other, NULL), 1);
    /* Its log stays readable by id. */
    Imageproc__ListDeliveriesRequest q = IMAGEPROC__LIST_DELIVERIES_REQUEST__INIT;
    q.subscription_id = sub;
    q.limit = 10;
    Imageproc__ListDeliveriesReply *qrep = NULL;
    CHECK(RPC(list_deliveries, &q, &qrep) == IP_OK);
    EXPECT_EQ_INT(qrep->n_deliveries, 3);
    msg_free(qrep);
}

static void test_resend(void)
{
    char sub[IP_UUID_STRLEN + 1], other[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_image(id, "");
    CHECK(fail_image(id, "x") == IP_OK);
    char did[IP_WEBHOOK_ID_MAX];
    delivery_id_of(id, "image.failed", did);
    Imageproc__ClaimDeliveriesReply *c = claim(10, 60000);
    CHECK(c->n_deliveries == 1);
    char body[1024];
    snprintf(body, sizeof(body), "%s", c->deliveries[0]->body);
    msg_free(c);
    CHECK(finish_delivery(did, true, 200, "", 0, 0, NULL) == IP_OK);
    /* Its horizon was long ago. */
    PQclear(sql("UPDATE webhook_deliveries SET horizon_from = now() - interval '3 days'"
                " WHERE id = '%s'",
                did));

    Imageproc__ResendDeliveryRequest rs = IMAGEPROC__RESEND_DELIVERY_REQUEST__INIT;
    rs.subscription_id = sub;
    rs.id = did;
    Imageproc__ResendDeliveryReply *rep = NULL;
    CHECK(RPC(resend_delivery, &rs, &rep) == IP_OK);
    const Imageproc__WebhookDelivery *d = rep->delivery;
    EXPECT(d->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    EXPECT(d->attempts == 1 && d->last_status == 200 && d->delivered_at_us == 0);
    EXPECT(d->next_attempt_at_us > 0 && d->next_attempt_at_us <= ip_now_us());
    EXPECT(d->body[0] == '\0' && d->secret[0] == '\0');
    msg_free(rep);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE id = '%s'"
                          " AND horizon_from > now() - interval '1 minute'",
                          did),
                  1);
    /* Handed out again: the same id and body, a second attempt. */
    c = claim(10, 60000);
    CHECK(c->n_deliveries == 1);
    EXPECT_EQ_STR(c->deliveries[0]->id, did);
    EXPECT_EQ_STR(c->deliveries[0]->body, body);
    EXPECT_EQ_INT(c->deliveries[0]->attempts, 2);
    msg_free(c);
    /* Failing within the new horizon: pending again, not failed. */
    Imageproc__FinishDeliveryReply *f = NULL;
    CHECK(finish_delivery(did, false, 500, "HTTP 500", 1000, 86400000, &f) == IP_OK);
    EXPECT(f->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    msg_free(f);
    /* A pending one is made due now. */
    CHECK(RPC(resend_delivery, &rs, &rep) == IP_OK);
    EXPECT(rep->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING &&
           rep->delivery->next_attempt_at_us <= ip_now_us());
    msg_free(rep);
    /* A failed one comes back. */
    PQclear(sql("UPDATE webhook_deliveries SET state = 'failed' WHERE id = '%s'", did));
    CHECK(RPC(resend_delivery, &rs, &rep) == IP_OK);
    EXPECT(rep->delivery->state == IMAGEPROC__DELIVERY_STATE__DELIVERY_PENDING);
    msg_free(rep);

    /* Another subscription's id, an unknown delivery, bad ids. */
    new_webhook(other, "", false, NULL, 0, NULL);
    rs.subscription_id = other;
    EXPECT(RPC(resend_delivery, &rs, &rep) == IP_NOT_FOUND);
    msg_free(rep);
    rs.subscription_id = sub;
    rs.id = "msg_00000000000000000000000000000000";
    EXPECT(RPC(resend_delivery, &rs, &rep) == IP_NOT_FOUND);
    msg_free(rep);
    rs.id = "1";
    EXPECT_BAD(RPC(resend_delivery, &rs, &rep), "id");
    msg_free(rep);
}

static void test_list_paging(void)
{
    char sub[IP_UUID_STRLEN + 1], other[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_webhook(other, "", false, NULL, 0, NULL);
    enum { N = 30, LIMIT = 7 };
    for (int i = 0; i < N; i++) {
        new_image(id, "");
        CHECK(fail_image(id, "x") == IP_OK);
    }
    /* Ten of them share one created_at: ties are broken by id. */
    PQclear(sql("UPDATE webhook_deliveries SET created_at = '2026-01-01T00:00:00.000001Z'"
                " WHERE id IN (SELECT id FROM webhook_deliveries WHERE subscription_id = '%s'"
                " ORDER BY seq LIMIT 10)",
                sub));
    PGresult *want = sql("SELECT id FROM webhook_deliveries WHERE subscription_id = '%s'"
                         " ORDER BY created_at DESC, id DESC",
                         sub);
    CHECK(PQntuples(want) == N);
    Imageproc__ListDeliveriesRequest q = IMAGEPROC__LIST_DELIVERIES_REQUEST__INIT;
    q.subscription_id = sub;
    q.limit = LIMIT;
    int seen = 0, pages = 0;
    char cursor_id[IP_WEBHOOK_ID_MAX];
    for (;;) {
        Imageproc__ListDeliveriesReply *rep = NULL;
        CHECK(RPC(list_deliveries, &q, &rep) == IP_OK);
        pages++;
        for (size_t i = 0; i < rep->n_deliveries; i++, seen++) {
            const Imageproc__WebhookDelivery *d = rep->deliveries[i];
            CHECK(seen < N);
            EXPECT_EQ_STR(d->id, PQgetvalue(want, seen, 0));
            EXPECT_EQ_STR(d->subscription_id, sub);
            EXPECT(d->event == FAILED && d->body[0] == '\0' && d->url[0] == '\0' &&
                   d->secret[0] == '\0');
        }
        EXPECT(rep->has_more == (seen < N));
        bool more = rep->has_more && rep->n_deliveries > 0;
        if (more) {
            const Imageproc__WebhookDelivery *last = rep->deliveries[rep->n_deliveries - 1];
            q.before_created_at_us = last->created_at_us;
            snprintf(cursor_id, sizeof(cursor_id), "%s", last->id);
            q.before_id = cursor_id;
        }
        msg_free(rep);
        if (!more)
            break;
        CHECK(pages <= N);
    }
    EXPECT_EQ_INT(seen, N);
    EXPECT_EQ_INT(pages, (N + LIMIT - 1) / LIMIT);
    PQclear(want);

    /* An unknown subscription has an empty log; bad requests name the field. */
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    q.subscription_id = unknown;
    q.before_created_at_us = 0;
    q.before_id = "";
    Imageproc__ListDeliveriesReply *rep = NULL;
    CHECK(RPC(list_deliveries, &q, &rep) == IP_OK);
    EXPECT(rep->n_deliveries == 0 && !rep->has_more);
    msg_free(rep);
    q.limit = 101;
    EXPECT_BAD(RPC(list_deliveries, &q, &rep), "limit");
    q.limit = 10;
    q.before_id = cursor_id;
    EXPECT_BAD(RPC(list_deliveries, &q, &rep), "before_created_at_us");
    q.subscription_id = "nope";
    EXPECT_BAD(RPC(list_deliveries, &q, &rep), "subscription_id");
    msg_free(rep);
}

/* Retention: an idle claim removes finished deliveries older than 30 days,
 * and nothing else: not a younger finished one, not an old pending one. */
static void test_prune(void)
{
    char sub[IP_UUID_STRLEN + 1], a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1],
        c[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_image(a, "");
    new_image(b, "");
    new_image(c, "");
    CHECK(fail_image(a, "x") == IP_OK);
    CHECK(fail_image(b, "x") == IP_OK);
    CHECK(fail_image(c, "x") == IP_OK);
    /* a: delivered 31 days ago; b: delivered 29 days ago; c: pending since
     * 31 days ago, not due yet. */
    PQclear(sql("UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(),"
                " created_at = now() - interval '31 days' WHERE image_id = '%s'",
                a));
    PQclear(sql("UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(),"
                " created_at = now() - interval '29 days' WHERE image_id = '%s'",
                b));
    PQclear(sql("UPDATE webhook_deliveries SET created_at = now() - interval '31 days',"
                " next_attempt_at = now() + interval '1 hour' WHERE image_id = '%s'",
                c));
    Imageproc__ClaimDeliveriesReply *r = claim(10, 60000);
    CHECK(r->n_deliveries == 0);
    msg_free(r);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE image_id = '%s'", a), 0);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE image_id = '%s'", b), 1);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_deliveries WHERE image_id = '%s'", c), 1);
}

/* clang-format off */
static const ip_test_case tests[] = {
    IP_TEST(claim_order),    IP_TEST(claim_concurrent), IP_TEST(finish),
    IP_TEST(delete_cancels), IP_TEST(resend),           IP_TEST(list_paging),
    IP_TEST(prune),
};
/* clang-format on */

int main(int argc, char **argv)
{
    return meta_webhooks_it_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
