/* gw_webhook_form.h — what a POST /webhooks body asks for, and its checks
 * (gw_webhook_form.c). Used by gw_routes_webhooks.c and the fuzz target.
 */
#ifndef GW_WEBHOOK_FORM_H
#define GW_WEBHOOK_FORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"
#include "ip_webhook.h"

#define GW_WEBHOOK_DESCRIPTION_MAX 200 /* bytes, as metadata-svc checks */

typedef struct gw_webhook_form {
    const char *url;
    Imageproc__WebhookEvent events[3]; /* canonical order, each once */
    size_t n_events;
    bool own;                /* "images": "own" */
    const char *description; /* "" when absent */
    const char *secret;      /* NULL: make one */
} gw_webhook_form;

/* Parses body[0..len) (NULL: no body). *doc is the parsed document or NULL;
 * the caller json_decref's it in every case, and the strings of *f and
 * *param are borrowed from it (or static). IP_OK with *f filled; else
 * IP_INVALID_ARGUMENT with a sentence in detail and the member at fault in
 * *param (NULL when the body as a whole is wrong). With allow_private false
 * a url whose host is a literal private address is refused (param "url"). */
ip_status gw_webhook_form_parse(const char *body, size_t len, bool allow_private,
                                gw_webhook_form *f, json_t **doc, const char **param, char *detail,
                                size_t dlen);

/* true when the url's host is a literal IPv4 or IPv6 address (brackets, an
 * IPv6 zone ignored) that gw_webhook_addr_private refuses. A host name, or a
 * url without "://", is false. */
bool gw_webhook_url_private_literal(const char *url);

/* true for "application/json", any case, with or without parameters. */
bool gw_content_type_is_json(const char *ct);

#endif
