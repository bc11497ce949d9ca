/* gw_webhook_form.c — the body of POST /webhooks, read and checked.
 *
 * The body is parsed with jansson (duplicate members refused) and must be an
 * object whose members are all known: url (a string of
 * ip_webhook_url_check's form), events (a non-empty array of distinct event
 * names, kept in canonical order; all three when absent), images ("all" or
 * "own"), description (at most GW_WEBHOOK_DESCRIPTION_MAX bytes) and secret
 * (ip_webhook_secret_valid's form). The first problem found is the answer:
 * its member in `param`, a sentence in `detail`. With private addresses
 * refused, a url whose host is a literal IPv4 or IPv6 address in a private
 * range (gw_webhook_addr_private, IPv6 zone ids ignored) is refused too; a
 * host name is left to the dispatcher, which checks the address it connects
 * to. Pure: no I/O, so the fuzz target (gw_fuzz.c) runs it as is.
 */
#include "gw_webhook_form.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_webhook_send.h"

/* The url's host when it is a literal IPv4 or IPv6 address: into *ss. */
static bool literal_host(const char *url, struct sockaddr_storage *ss)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    char host[256];
    if (*p == '[') {
        const char *end = memchr(p, ']', n);
        if (!end || (size_t)(end - p - 1) >= sizeof host)
            return false;
        memcpy(host, p + 1, (size_t)(end - p - 1));
        host[end - p - 1] = '\0';
        char *zone = strchr(host, '%');
        if (zone)
            *zone = '\0';
    } else {
        size_t h = strcspn(p, ":/?#");
        if (h >= sizeof host)
            return false;
        memcpy(host, p, h);
        host[h] = '\0';
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

/* Reads the body's object into f (strings borrowed from `body`); else the
 * reason into detail and the member into *param. */
static bool form_read(json_t *body, gw_webhook_form *f, const char **param, char *detail,
                      size_t dlen)
{
    memset(f, 0, sizeof *f);
    *param = NULL;
    bool seen[4] = {false, false, false, false};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (!strcmp(key, "url")) {
            if (!json_is_string(v)) {
                snprintf(detail, dlen, "url must be a string");
                *param = "url";
                return false;
            }
            f->url = json_string_value(v);
        } else if (!strcmp(key, "events")) {
            if (!json_is_array(v) || json_array_size(v) == 0) {
                snprintf(detail, dlen,
                         "events must be a non-empty array of event names: "
                         "image.ready, image.failed, image.deleted");
                *param = "events";
                return false;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                const char *name = json_is_string(e) ? json_string_value(e) : "";
                Imageproc__WebhookEvent ev = ip_webhook_event_parse(name);
                const char *canon = ip_webhook_event_name(ev);
                if (!canon || strcmp(canon, name) != 0 || ev < 1 || ev > 3) {
                    snprintf(detail, dlen,
                             "events[%zu] is not an event name: use image.ready, image.failed "
                             "or image.deleted",
                             i);
                    *param = "events";
                    return false;
                }
                if (seen[ev]) {
                    snprintf(detail, dlen, "events lists %s twice", canon);
                    *param = "events";
                    return false;
                }
                seen[ev] = true;
            }
        } else if (!strcmp(key, "images")) {
            const char *s = json_is_string(v) ? json_string_value(v) : "";
            if (strcmp(s, "all") != 0 && strcmp(s, "own") != 0) {
                snprintf(detail, dlen,
                         "images must be \"all\" (every image's events) or \"own\" "
                         "(the images uploaded with this key)");
                *param = "images";
                return false;
            }
            f->own = !strcmp(s, "own");
        } else if (!strcmp(key, "description")) {
            if (!json_is_string(v) || json_string_length(v) > GW_WEBHOOK_DESCRIPTION_MAX) {
                snprintf(detail, dlen, "description must be a string of at most %d bytes",
                         GW_WEBHOOK_DESCRIPTION_MAX);
                *param = "description";
                return false;
            }
            f->description = json_string_value(v);
        } else if (!strcmp(key, "secret")) {
            if (!json_is_string(v) || !ip_webhook_secret_valid(json_string_value(v))) {
                snprintf(detail, dlen,
                         "secret must be \"whsec_\" followed by the standard "
                         "base64 of 24 to 64 random bytes; leave it out to have "
                         "one made");
                *param = "secret";
                return false;
            }
            f->secret = json_string_value(v);
        } else {
            snprintf(detail, dlen,
                     "unknown member %.64s: a subscription has url, events, images, "
                     "description and secret",
                     key);
            *param = key;
            return false;
        }
    }
    if (!f->url) {
        snprintf(detail, dlen, "url is required: the http(s) address that receives the webhooks");
        *param = "url";
        return false;
    }
    /* Canonical (enum) order; all three when none were named. */
    bool any = seen[1] || seen[2] || seen[3];
    for (int e = 1; e <= 3; e++)
        if (!any || seen[e])
            f->events[f->n_events++] = (Imageproc__WebhookEvent)e;
    if (!f->description)
        f->description = "";
    return true;
}

bool gw_content_type_is_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

bool gw_webhook_url_private_literal(const char *url)
{
    struct sockaddr_storage ss;
    return literal_host(url, &ss) && gw_webhook_addr_private((const struct sockaddr *)&ss);
}

ip_status gw_webhook_form_parse(const char *body, size_t len, bool allow_private,
                                gw_webhook_form *f, json_t **doc, const char **param, char *detail,
                                size_t dlen)
{
    memset(f, 0, sizeof *f);
    *param = NULL;
    json_error_t jerr;
    *doc = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(*doc)) {
        snprintf(detail, dlen,
                 "the body must be a JSON object such as {\"url\": \"https://example.com/hook\"}");
        return IP_INVALID_ARGUMENT;
    }
    if (!form_read(*doc, f, param, detail, dlen))
        return IP_INVALID_ARGUMENT;
    if (ip_webhook_url_check(f->url, detail, dlen) != IP_OK) {
        *param = "url";
        return IP_INVALID_ARGUMENT;
    }
    if (!allow_private && gw_webhook_url_private_literal(f->url)) {
        snprintf(detail, dlen,
                 "the url's host is a private address, which this service does "
                 "not send webhooks to");
        *param = "url";
        return IP_INVALID_ARGUMENT;
    }
    return IP_OK;
}
