/* stor_s3_bucket.c — stor_s3_ensure_bucket: the bucket exists and carries
 * the policy its caller gives.
 *
 * HOW IT WORKS
 * 1. HEAD the bucket. HEAD answers carry no body, so a 403 or 404 is asked
 *    again with GET ?location= to learn S3's reason: a 404 NoSuchBucket means
 *    the bucket is missing; anything else means S3 refused the keys
 *    (IP_FAILED_PRECONDITION with S3's Code and Message, so start-up can say
 *    why it stopped).
 * 2. A missing bucket is made: PUT, with a LocationConstraint outside
 *    us-east-1. A 409 means another instance made it meanwhile, which is as
 *    good.
 * 3. The caller's policy, when it gives one, is PUT ?policy= as given. This
 *    client knows nothing of what the policy says: the application's policy
 *    text has its home in common/ip_keys.h.
 * The probes are idempotent and retried like any read; creation and the
 * policy are sent once, and start-up decides what to do with their failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_log.h"
#include "stor_s3_internal.h"
#include "stor_s3_text.h"

/* Step 1: IP_OK when the bucket exists, IP_NOT_FOUND when it is missing,
 * else the failure with err set. */
static ip_status bucket_probe(stor_s3 *s3, int64_t budget_ms, char *err, size_t errlen)
{
    stor_s3_resp resp = {0};
    stor_s3_req head = {.method = "HEAD", .idempotent = true, .max_body = SIZE_MAX};
    ip_status st = stor_s3_perform(s3, &head, &resp, budget_ms, err, errlen);
    if (st == IP_FAILED_PRECONDITION || st == IP_NOT_FOUND) {
        char code[64] = "", msg[384] = "";
        stor_s3_req get = {
            .method = "GET", .query = "location=", .idempotent = true, .max_body = STOR_S3_XML_MAX};
        st = stor_s3_perform(s3, &get, &resp, budget_ms, err, errlen);
        if (st != IP_OK && st != IP_UNAVAILABLE) {
            stor_xml_error_parse(resp.body, resp.len, code, sizeof code, msg, sizeof msg);
            if (resp.status == 404 && strcmp(code, "NoSuchBucket") == 0) {
                st = IP_NOT_FOUND;
            } else {
                ip_errorf(err, errlen, "s3 refused the credentials for bucket %s (%s): %s",
                                s3->bucket, code[0] ? code : "AccessDenied",
                                msg[0] ? msg : "access denied");
                st = IP_FAILED_PRECONDITION;
            }
        }
    }
    stor_s3_resp_reset(&resp, 0);
    return st;
}

/* Step 2: makes the bucket; IP_OK also when another instance just made it. */
static ip_status bucket_create(stor_s3 *s3, int64_t budget_ms, char *err, size_t errlen)
{
    char *body = NULL;
    if (strcmp(s3->region, "us-east-1") != 0 &&
        asprintf(&body,
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                 s3->region) < 0) {
        ip_errorf(err, errlen, "s3 create bucket: out of memory");
        return IP_RESOURCE_EXHAUSTED;
    }
    stor_s3_resp resp = {0};
    stor_s3_req mk = {.method = "PUT",
                      .body = body,
                      .body_len = body ? strlen(body) : 0,
                      .content_type = body ? "application/xml" : NULL,
                      .max_body = STOR_S3_XML_MAX};
    ip_status st = stor_s3_perform(s3, &mk, &resp, budget_ms, err, errlen);
    if (st == IP_FAILED_PRECONDITION && resp.status == 409)
        st = IP_OK; /* made meanwhile by another instance */
    if (st == IP_OK)
        ip_log(IP_LOG_INFO, "s3.bucket_created", IP_LS("bucket", s3->bucket));
    stor_s3_resp_reset(&resp, 0);
    free(body);
    return st;
}

/* Step 3: sets the bucket policy to `policy_json` as given. */
static ip_status bucket_put_policy(stor_s3 *s3, const char *policy_json, int64_t budget_ms,
                                   char *err, size_t errlen)
{
    stor_s3_resp resp = {0};
    stor_s3_req pol = {.method = "PUT",
                       .query = "policy=",
                       .body = policy_json,
                       .body_len = strlen(policy_json),
                       .content_type = "application/json",
                       .max_body = STOR_S3_XML_MAX};
    ip_status st = stor_s3_perform(s3, &pol, &resp, budget_ms, err, errlen);
    stor_s3_resp_reset(&resp, 0);
    return st;
}

ip_status stor_s3_ensure_bucket(stor_s3 *s3, const char *policy_json, int64_t budget_ms, char *err,
                                size_t errlen)
{
    ip_status st = bucket_probe(s3, budget_ms, err, errlen);
    if (st == IP_NOT_FOUND)
        st = bucket_create(s3, budget_ms, err, errlen);
    if (st == IP_OK && policy_json && policy_json[0])
        st = bucket_put_policy(s3, policy_json, budget_ms, err, errlen);
    return st;
}
