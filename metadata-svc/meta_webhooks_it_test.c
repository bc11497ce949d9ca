/* meta_webhooks_it_test.c — integration tests of metadata-svc's webhooks
 * against the real PostgreSQL: the outbox written by the image writes
 * (FinishImage, FailImage, DeleteImage) and the subscriptions.
 *
 * Run as `meta_webhooks_it_test <name>` (ctest: metadata-svc.webhooks.<name>);
 * the harness and how the tests reach the database are in meta_webhooks_it.h.
 * The outbox is checked behind the service's back: the rows and their bodies
 * byte for byte, since the body is what every attempt sends.
 */
#include "meta_webhooks_it.h"

/* ------------------------------------------------------------- the outbox */

static void test_outbox_ready(void)
{
    char sub[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_image(id, "");
    EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 0); /* an upload is no event */
    CHECK(finish_ready(id) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, sub, "image.ready"), 1);
    EXPECT_BODY(id, "image.ready", "ready", "");
    PGresult *r = sql("SELECT state, attempts, id ~ '^msg_[0-9a-f]{32}$',"
                      " next_attempt_at <= now(), created_at = horizon_from"
                      " FROM webhook_deliveries WHERE image_id = '%s'",
                      id);
    EXPECT_EQ_STR(PQgetvalue(r, 0, 0), "pending");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 1), "0");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 2), "t");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 3), "t");
    EXPECT_EQ_STR(PQgetvalue(r, 0, 4), "t");
    PQclear(r);
    /* A repeat changes nothing and tells nobody. */
    CHECK(finish_ready(id) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 1);
    /* FailImage of a ready image changes nothing either. */
    CHECK(fail_image(id, "late") == IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 1);
    /* A regeneration is no event. */
    {
        char key[IP_KEY_MAX];
        CHECK(ip_key_variant(key, id, IP_VARIANT_THUMBNAIL, &ip_format_jpeg) == IP_OK);
        Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
        v.kind = IP_VARIANT_THUMBNAIL;
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_READY;
        v.object_key = key;
        v.width = 320;
        v.height = 240;
        v.size_bytes = 4096;
        v.format = (char *)ip_format_jpeg.name;
        Imageproc__Variant *vp[] = {&v};
        Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
        req.id = id;
        req.variants = vp;
        req.n_variants = 1;
        req.regenerate = true;
        Imageproc__FinishImageReply *rep = NULL;
        EXPECT_ST(RPC(finish_image, &req, &rep), IP_OK, last_err);
        msg_free(rep);
        EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 1);
    }
}

static void test_outbox_failed(void)
{
    char sub[IP_UUID_STRLEN + 1], a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);

    /* FinishImage closing as failed: image.failed with the reason. */
    new_image(a, "");
    {
        Imageproc__Variant v = IMAGEPROC__VARIANT__INIT;
        v.kind = IP_VARIANT_THUMBNAIL;
        v.status = IMAGEPROC__VARIANT_STATUS__VARIANT_FAILED;
        v.error = "too \"large\"";
        Imageproc__Variant *vp[] = {&v};
        Imageproc__FinishImageRequest req = IMAGEPROC__FINISH_IMAGE_REQUEST__INIT;
        req.id = a;
        req.variants = vp;
        req.n_variants = 1;
        Imageproc__FinishImageReply *rep = NULL;
        CHECK(RPC(finish_image, &req, &rep) == IP_OK);
        EXPECT(rep->image->status == IMAGEPROC__IMAGE_STATUS__IMAGE_FAILED);
        msg_free(rep);
        EXPECT_EQ_INT(deliveries_of(a, sub, "image.failed"), 1);
        EXPECT_BODY(a, "image.failed", "failed", "thumbnail: too \\\"large\\\"");
        /* Again: the same outcome, no new delivery. */
        CHECK(RPC(finish_image, &req, &rep) == IP_OK);
        msg_free(rep);
        EXPECT_EQ_INT(deliveries_of(a, NULL, NULL), 1);
    }
    /* FailImage: one delivery for the change, none for a repeat. */
    new_image(b, "");
    CHECK(fail_image(b, "undecodable") == IP_OK);
    EXPECT_EQ_INT(deliveries_of(b, sub, "image.failed"), 1);
    EXPECT_BODY(b, "image.failed", "failed", "undecodable");
    CHECK(fail_image(b, "undecodable") == IP_OK);
    CHECK(fail_image(b, "sent to the DLQ") == IP_OK);
    EXPECT_EQ_INT(deliveries_of(b, NULL, NULL), 1);
    /* Retried and then ready: a new change, a new delivery. */
    Imageproc__RetryImageRequest rr = IMAGEPROC__RETRY_IMAGE_REQUEST__INIT;
    rr.id = b;
    Imageproc__RetryImageReply *rrep = NULL;
    CHECK(RPC(retry_image, &rr, &rrep) == IP_OK);
    msg_free(rrep);
    EXPECT_EQ_INT(deliveries_of(b, NULL, NULL), 1);
    CHECK(finish_ready(b) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(b, sub, "image.ready"), 1);
}

static void test_outbox_deleted(void)
{
    char sub[IP_UUID_STRLEN + 1], a[IP_UUID_STRLEN + 1], b[IP_UUID_STRLEN + 1],
        c[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);
    new_image(a, "");
    CHECK(delete_image(a, false) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(a, sub, "image.deleted"), 1);
    EXPECT_BODY(a, "image.deleted", "deleted", "");
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM images WHERE id = '%s'", a), 0);
    /* A second delete is NOT_FOUND and writes nothing. */
    EXPECT(delete_image(a, false) == IP_NOT_FOUND);
    EXPECT_EQ_INT(deliveries_of(a, NULL, NULL), 1);

    /* A failed image deleted: status "deleted", no reason. */
    new_image(b, "");
    CHECK(fail_image(b, "broken") == IP_OK);
    CHECK(delete_image(b, false) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(b, NULL, NULL), 2);
    EXPECT_BODY(b, "image.deleted", "deleted", "");

    /* An upload's undo: nobody ever heard of the image, nobody hears of its end. */
    new_image(c, "");
    CHECK(delete_image(c, true) == IP_OK);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM images WHERE id = '%s'", c), 0);
    EXPECT_EQ_INT(deliveries_of(c, NULL, NULL), 0);
}

static void test_outbox_match(void)
{
    char key1[IP_UUID_STRLEN + 1], key2[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(key1);
    ip_uuid_v7_str(key2);
    char all[IP_UUID_STRLEN + 1], failed_only[IP_UUID_STRLEN + 1], own1[IP_UUID_STRLEN + 1],
        key1_all[IP_UUID_STRLEN + 1], gone[IP_UUID_STRLEN + 1];
    Imageproc__WebhookEvent failed[] = {FAILED};
    Imageproc__WebhookEvent ready_deleted[] = {READY, DELETED};
    new_webhook(all, "", false, NULL, 0, NULL);
    new_webhook(failed_only, "", false, failed, 1, NULL);
    new_webhook(own1, key1, true, ready_deleted, 2, NULL);
    new_webhook(key1_all, key1, false, NULL, 0, NULL); /* a key's subscription to every image */
    new_webhook(gone, "", false, NULL, 0, NULL);
    Imageproc__DeleteWebhookRequest dr = IMAGEPROC__DELETE_WEBHOOK_REQUEST__INIT;
    dr.id = gone;
    Imageproc__DeleteWebhookReply *drep = NULL;
    CHECK(RPC(delete_webhook, &dr, &drep) == IP_OK);
    msg_free(drep);

    char mine[IP_UUID_STRLEN + 1], theirs[IP_UUID_STRLEN + 1], anon[IP_UUID_STRLEN + 1];
    new_image(mine, key1);
    new_image(theirs, key2);
    new_image(anon, "");
    CHECK(finish_ready(mine) == IP_OK);
    CHECK(finish_ready(theirs) == IP_OK);
    CHECK(fail_image(anon, "bad") == IP_OK);

    /* ready of key1's image: all, own1, key1_all. */
    EXPECT_EQ_INT(deliveries_of(mine, NULL, NULL), 3);
    EXPECT_EQ_INT(deliveries_of(mine, all, "image.ready"), 1);
    EXPECT_EQ_INT(deliveries_of(mine, own1, "image.ready"), 1);
    EXPECT_EQ_INT(deliveries_of(mine, key1_all, "image.ready"), 1);
    /* ready of key2's image: all, key1_all (not own1). */
    EXPECT_EQ_INT(deliveries_of(theirs, NULL, NULL), 2);
    EXPECT_EQ_INT(deliveries_of(theirs, own1, NULL), 0);
    /* failed of an anonymous image: all, failed_only, key1_all. */
    EXPECT_EQ_INT(deliveries_of(anon, NULL, NULL), 3);
    EXPECT_EQ_INT(deliveries_of(anon, failed_only, "image.failed"), 1);
    EXPECT_EQ_INT(deliveries_of(anon, own1, NULL), 0);
    /* The deleted subscription got nothing. */
    EXPECT_EQ_INT(
        sql_int("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = '%s'", gone), 0);
    /* Deleting key1's image: all, own1, key1_all; the same body for each. */
    CHECK(delete_image(mine, false) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(mine, NULL, "image.deleted"), 3);
    EXPECT_EQ_INT(sql_int("SELECT count(DISTINCT body) FROM webhook_deliveries WHERE"
                          " image_id = '%s' AND event = 'image.deleted'",
                          mine),
                  1);
    EXPECT_EQ_INT(sql_int("SELECT count(DISTINCT id) FROM webhook_deliveries WHERE"
                          " image_id = '%s'",
                          mine),
                  6);
}

static void test_outbox_rollback(void)
{
    char sub[IP_UUID_STRLEN + 1], id[IP_UUID_STRLEN + 1], gone[IP_UUID_STRLEN + 1];
    new_webhook(sub, "", false, NULL, 0, NULL);

    /* A change that is refused writes nothing: a deleted image... */
    new_image(gone, "");
    CHECK(delete_image(gone, true) == IP_OK);
    EXPECT(finish_ready(gone) == IP_NOT_FOUND);
    EXPECT(fail_image(gone, "x") == IP_NOT_FOUND);
    EXPECT_EQ_INT(deliveries_of(gone, NULL, NULL), 0);

    /* ...and a change whose COMMIT fails after the outbox rows were written
     * (a deferred check that refuses this image at commit): the rows go with
     * the rollback, the image stays as it was. */
    new_image(id, "");
    PQclear(sql("UPDATE images SET filename = 'refuse.jpg' WHERE id = '%s'", id));
    PQclear(sql("CREATE OR REPLACE FUNCTION test_refuse_commit() RETURNS trigger"
                " LANGUAGE plpgsql AS $$ BEGIN IF (TG_OP = 'UPDATE' AND"
                " NEW.filename = 'refuse.jpg') OR (TG_OP = 'DELETE' AND"
                " OLD.filename = 'refuse.jpg') THEN RAISE EXCEPTION 'refused at commit';"
                " END IF; RETURN NULL; END $$"));
    PQclear(sql("DROP TRIGGER IF EXISTS test_refuse_commit ON images"));
    PQclear(sql("CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER UPDATE OR DELETE ON images"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                " EXECUTE FUNCTION test_refuse_commit()"));
    ip_status st_ready = finish_ready(id);
    ip_status st_fail = fail_image(id, "x");
    ip_status st_delete = delete_image(id, false);
    PQclear(sql("DROP TRIGGER test_refuse_commit ON images"));
    EXPECT(st_ready != IP_OK && st_fail != IP_OK && st_delete != IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, NULL, NULL), 0);
    PGresult *r = sql("SELECT status FROM images WHERE id = '%s'", id);
    EXPECT(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "pending") == 0);
    PQclear(r);
    /* Without the check the same change commits, with its delivery. */
    CHECK(finish_ready(id) == IP_OK);
    EXPECT_EQ_INT(deliveries_of(id, sub, "image.ready"), 1);
}

/* ------------------------------------------------------------- subscriptions */

static void test_subscriptions(void)
{
    char key[IP_UUID_STRLEN + 1], upper[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(key);
    for (size_t i = 0; i <= IP_UUID_STRLEN; i++)
        upper[i] = (char)(key[i] >= 'a' && key[i] <= 'f' ? key[i] - 32 : key[i]);

    /* Create: the secret once, events in canonical order, ids canonical. */
    char id[IP_UUID_STRLEN + 1], secret[IP_WEBHOOK_SECRET_MAX];
    CHECK(ip_webhook_new_secret(secret) == IP_OK);
    ip_uuid_v7_str(id);
    Imageproc__WebhookEvent events[] = {DELETED, READY};
    Imageproc__WebhookSubscription w = IMAGEPROC__WEBHOOK_SUBSCRIPTION__INIT;
    w.id = id;
    w.url = "https://hooks.example.com/in?token=abc";
    w.secret = secret;
    w.events = events;
    w.n_events = 2;
    w.key_id = upper;
    w.own_images_only = true;
    w.description = "ci \xe2\x9c\x93";
    Imageproc__CreateWebhookRequest req = IMAGEPROC__CREATE_WEBHOOK_REQUEST__INIT;
    req.subscription = &w;
    Imageproc__CreateWebhookReply *rep = NULL;
    CHECK(RPC(create_webhook, &req, &rep) == IP_OK);
    const Imageproc__WebhookSubscription *s = rep->subscription;
    EXPECT_EQ_STR(s->id, id);
    EXPECT_EQ_STR(s->url, w.url);
    EXPECT_EQ_STR(s->secret, secret);
    EXPECT(s->n_events == 2 && s->events[0] == READY && s->events[1] == DELETED);
    EXPECT_EQ_STR(s->key_id, key);
    EXPECT(s->own_images_only);
    EXPECT_EQ_STR(s->description, w.description);
    EXPECT(s->created_at_us > ip_now_us() - 60000000 && s->created_at_us <= ip_now_us());
    msg_free(rep);
    EXPECT(RPC(create_webhook, &req, &rep) == IP_ALREADY_EXISTS);
    msg_free(rep);

    /* Get: no secret. */
    Imageproc__GetWebhookRequest gr = IMAGEPROC__GET_WEBHOOK_REQUEST__INIT;
    gr.id = id;
    Imageproc__GetWebhookReply *grep = NULL;
    CHECK(RPC(get_webhook, &gr, &grep) == IP_OK);
    EXPECT(grep->subscription->secret[0] == '\0');
    EXPECT_EQ_STR(grep->subscription->url, w.url);
    EXPECT(grep->subscription->n_events == 2);
    msg_free(grep);
    char unknown[IP_UUID_STRLEN + 1];
    ip_uuid_v7_str(unknown);
    gr.id = unknown;
    EXPECT(RPC(get_webhook, &gr, &grep) == IP_NOT_FOUND);
    msg_free(grep);
    gr.id = "x";
    EXPECT_BAD(RPC(get_webhook, &gr, &grep), "id");
    msg_free(grep);

    /* List: a key's own, an operator's, every one; oldest first, no secrets. */
    char op1[IP_UUID_STRLEN + 1], op2[IP_UUID_STRLEN + 1], k2[IP_UUID_STRLEN + 1];
    new_webhook(op1, "", false, NULL, 0, NULL);
    new_webhook(k2, key, false, NULL, 0, NULL);
    new_webhook(op2, "", false, NULL, 0, NULL);
    struct {
        const char *key_id;
        bool all;
        const char *want[4];
    } cases[] = {
        {key, false, {id, k2, NULL}},
        {upper, false, {id, k2, NULL}},
        {"", false, {op1, op2, NULL}},
        {"", true, {id, op1, k2, op2}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Imageproc__ListWebhooksRequest lr = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
        lr.key_id = (char *)cases[i].key_id;
        lr.all = cases[i].all;
        Imageproc__ListWebhooksReply *lrep = NULL;
        CHECK(RPC(list_webhooks, &lr, &lrep) == IP_OK);
        size_t n = 0;
        while (n < 4 && cases[i].want[n] != NULL)
            n++;
        EXPECTF(lrep->n_subscriptions == n, "case %zu: %zu subscriptions", i,
                lrep->n_subscriptions);
        for (size_t j = 0; j < n && j < lrep->n_subscriptions; j++) {
            EXPECT_EQ_STR(lrep->subscriptions[j]->id, cases[i].want[j]);
            EXPECT(lrep->subscriptions[j]->secret[0] == '\0');
        }
        msg_free(lrep);
    }

    /* Bad requests name the field. */
    ip_uuid_v7_str(id);
    w.id = id;
    w.url = "ftp://example.com/";
    EXPECT_BAD(RPC(create_webhook, &req, &rep), "subscription.url");
    w.url = "https://example.com/";
    w.secret = "whsec_short";
    EXPECT_BAD(RPC(create_webhook, &req, &rep), "subscription.secret");
    w.secret = secret;
    w.n_events = 0;
    EXPECT_BAD(RPC(create_webhook, &req, &rep), "subscription.events");
    w.n_events = 2;
    w.key_id = "";
    EXPECT_BAD(RPC(create_webhook, &req, &rep), "subscription.own_images_only");
    req.subscription = NULL;
    EXPECT_BAD(RPC(create_webhook, &req, &rep), "subscription");
    msg_free(rep);
    Imageproc__ListWebhooksRequest lr = IMAGEPROC__LIST_WEBHOOKS_REQUEST__INIT;
    lr.key_id = "k";
    Imageproc__ListWebhooksReply *lrep = NULL;
    EXPECT_BAD(RPC(list_webhooks, &lr, &lrep), "key_id");
    msg_free(lrep);
    EXPECT_EQ_INT(sql_int("SELECT count(*) FROM webhook_subscriptions"), 4);
}

/* clang-format off */
static const ip_test_case tests[] = {
    IP_TEST(outbox_ready),   IP_TEST(outbox_failed),    IP_TEST(outbox_deleted),
    IP_TEST(outbox_match),   IP_TEST(outbox_rollback),  IP_TEST(subscriptions),
};
/* clang-format on */

int main(int argc, char **argv)
{
    return meta_webhooks_it_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
