/* stor_s3.c — the S3 client object: its settings and the per-thread CURL
 * handles (see stor_s3.h for the contract, stor_s3_internal.h for the map of
 * the other files).
 *
 * HOW IT WORKS
 * Every call runs on the calling thread's own CURL easy handle. The handle is
 * made on the thread's first call and kept in a pthread key, so a worker
 * thread reuses its kept-alive connection for every later call
 * (curl_easy_reset keeps the connection cache). Handles are also listed in the
 * client so stor_s3_free can release the ones whose threads are still alive;
 * a thread that exits first releases its own through the key's destructor.
 * Each handle carries the jitter state of its thread's backoff, so retries
 * need no shared random state.
 */
#include "stor_s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip_time.h"
#include "stor_s3_internal.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_RETRIES 3

/* ------------------------------------------------------------ handles */

static void handle_release(stor_s3_handle *h)
{
    curl_easy_cleanup(h->curl);
    free(h);
}

/* Key destructor: the thread is exiting, unlist and free its handle. */
static void handle_destroy(void *p)
{
    stor_s3_handle *h = p;
    stor_s3 *s3 = h->owner;
    pthread_mutex_lock(&s3->mu);
    if (h->prev)
        h->prev->next = h->next;
    else
        s3->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&s3->mu);
    handle_release(h);
}

stor_s3_handle *stor_s3_handle_get(stor_s3 *s3)
{
    stor_s3_handle *h = pthread_getspecific(s3->key);
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    h->owner = s3;
    h->rng = (uint64_t)ip_mono_us() ^ ((uint64_t)(uintptr_t)h << 17) ^ 0x9E3779B97F4A7C15ull;
    if (pthread_setspecific(s3->key, h) != 0) {
        handle_release(h);
        return NULL;
    }
    pthread_mutex_lock(&s3->mu);
    h->next = s3->handles;
    if (s3->handles)
        s3->handles->prev = h;
    s3->handles = h;
    pthread_mutex_unlock(&s3->mu);
    return h;
}

uint64_t stor_s3_handle_rand(stor_s3_handle *h)
{
    uint64_t x = h->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    h->rng = x;
    return x;
}

/* ------------------------------------------------------------ helpers */

int64_t stor_s3_deadline_ms(const stor_s3 *s3, int64_t budget_ms)
{
    return ip_mono_ms() + (budget_ms > 0 ? budget_ms : s3->timeout_ms);
}

/* ------------------------------------------------------------ client */

static char *dup_or_empty(const char *s, bool *ok)
{
    char *d = strdup(s ? s : "");
    if (!d)
        *ok = false;
    return d;
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Frees the settings and the client itself, and drops its libcurl reference. */
static void client_release(stor_s3 *s3)
{
    free(s3->endpoint);
    free(s3->region);
    free(s3->bucket);
    free(s3->access_key);
    if (s3->secret_key)
        explicit_bzero(s3->secret_key, strlen(s3->secret_key));
    free(s3->secret_key);
    free(s3->sigv4);
    free(s3);
    curl_global_cleanup();
}

ip_status stor_s3_new(const stor_s3_opts *opts, stor_s3 **out)
{
    *out = NULL;
    if (!opts || !opts->endpoint || !opts->bucket || !bucket_name_ok(opts->bucket) ||
        !opts->region || !opts->region[0] || strchr(opts->region, ':'))
        return IP_INVALID_ARGUMENT;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return IP_INTERNAL;

    stor_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3) {
        curl_global_cleanup();
        return IP_RESOURCE_EXHAUSTED;
    }
    bool ok = true;
    s3->endpoint = dup_or_empty(opts->endpoint, &ok);
    s3->region = dup_or_empty(opts->region, &ok);
    s3->bucket = dup_or_empty(opts->bucket, &ok);
    s3->access_key = dup_or_empty(opts->access_key, &ok);
    s3->secret_key = dup_or_empty(opts->secret_key, &ok);
    if (ok && asprintf(&s3->sigv4, "aws:amz:%s:s3", opts->region) < 0) {
        s3->sigv4 = NULL;
        ok = false;
    }
    if (!ok) {
        client_release(s3);
        return IP_RESOURCE_EXHAUSTED;
    }
    size_t el = strlen(s3->endpoint);
    while (el > 0 && s3->endpoint[el - 1] == '/')
        s3->endpoint[--el] = '\0';
    s3->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    s3->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    s3->retries = opts->retries >= 0 ? opts->retries : DEFAULT_RETRIES;
    pthread_mutex_init(&s3->mu, NULL);
    if (pthread_key_create(&s3->key, handle_destroy) != 0) {
        pthread_mutex_destroy(&s3->mu);
        client_release(s3);
        return IP_INTERNAL;
    }
    *out = s3;
    return IP_OK;
}

void stor_s3_free(stor_s3 *s3)
{
    if (!s3)
        return;
    pthread_key_delete(s3->key); /* no destructor runs after this */
    pthread_mutex_lock(&s3->mu);
    stor_s3_handle *h = s3->handles;
    s3->handles = NULL;
    pthread_mutex_unlock(&s3->mu);
    while (h) {
        stor_s3_handle *next = h->next;
        handle_release(h);
        h = next;
    }
    pthread_mutex_destroy(&s3->mu);
    client_release(s3);
}
