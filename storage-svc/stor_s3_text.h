/* stor_s3_text.h — the text formats the S3 client speaks, as pure functions.
 *
 * Everything here works on memory only (no I/O, no globals), so it is unit
 * tested on its own: key validation, URI encoding of keys and query values by
 * the S3/SigV4 rules, the canonical (sorted, explicit '=') query string that
 * libcurl 7.88 signs as written, XML escaping for request bodies, and a small
 * scanner for the few XML answers the client reads (Error, ListBucketResult,
 * DeleteResult). The scanner is purpose-built: it finds <Tag>…</Tag> pairs in
 * order and decodes entities; it is not a general XML parser and does not need
 * to be, since S3 answers are flat, attribute-free below the root element.
 */
#ifndef STOR_S3_TEXT_H
#define STOR_S3_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "ip_status.h"

#define STOR_KEY_MAX 1024 /* S3's limit on a key, in bytes */

/* Checks an object key: 1..STOR_KEY_MAX bytes of printable ASCII
 * (0x20..0x7e), no leading '/', no "..", no empty or "." path segment (the
 * file-backed S3 servers would fold such keys onto others), no trailing '/'.
 * Returns IP_INVALID_ARGUMENT with a reason in `why` (static text) otherwise. */
ip_status stor_key_check(const char *key, const char **why);

/* The same rules for a non-empty prefix, which may end with '/'. */
ip_status stor_prefix_check(const char *prefix, const char **why);

/* Checks a header value we pass through (content type, cache control):
 * printable ASCII, at most `max` bytes. Empty is allowed. */
bool stor_header_value_ok(const char *v, size_t max);

/* URI-encodes `in` by the SigV4 rules: unreserved characters (A-Z a-z 0-9
 * - _ . ~) stay, every other byte becomes %XY with upper-case hex; '/' stays
 * when keep_slash (object paths) and is encoded otherwise (query values).
 * Returns an owned string (free()), NULL when out of memory. */
char *stor_uri_encode(const char *in, size_t len, bool keep_slash);

typedef struct stor_query_param {
    const char *name;  /* unencoded */
    const char *value; /* unencoded; NULL or "" gives "name=" */
} stor_query_param;

/* Builds the canonical query string: names and values URI-encoded (slashes
 * too), pairs sorted by encoded name then value, each written "name=value"
 * with the '=' always present, joined by '&'. `params` is reordered in
 * place. Returns an owned string ("" for n == 0), NULL when out of memory. */
char *stor_canonical_query(stor_query_param *params, size_t n);

/* Escapes & < > " ' for XML text. Owned result, NULL when out of memory. */
char *stor_xml_escape(const char *in);

/* Finds the next element <tag>…</tag> in [*pos, end). On success sets
 * *inner and *inner_len to its raw content, advances *pos past the closing tag and
 * returns true. An empty element <tag/> yields an empty content. */
bool stor_xml_next(const char **pos, const char *end, const char *tag, const char **inner,
                   size_t *inner_len);

/* Decodes the five named entities and numeric ones (&#NN; &#xNN;, ASCII and
 * UTF-8 encoded) of raw XML text into `out` (NUL-terminated, truncated to
 * outlen - 1). Returns false when the input is malformed or was truncated. */
bool stor_xml_text(const char *raw, size_t len, char *out, size_t outlen);

/* Same, into an owned string sized to fit (free()); NULL when malformed or out
 * of memory. */
char *stor_xml_text_dup(const char *raw, size_t len);

/* Reads an S3 <Error> answer: Code and Message into the buffers ("" when
 * absent). Returns true when at least a Code was found. */
bool stor_xml_error_parse(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                          size_t msglen);

/* Makes the body of a multi-object delete: <Delete><Quiet>true</Quiet> and one
 * <Object><Key>…</Key></Object> per key (escaped). Owned, NULL when out of
 * memory; *len_out is its length. */
char *stor_xml_delete_body(const char *const *keys, size_t n, size_t *len_out);

/* Reads one ListObjectsV2 page: the keys under <Contents> (owned array of
 * owned strings; free each and the array) and, when IsTruncated is true, the
 * NextContinuationToken (owned, else NULL). IP_INVALID_ARGUMENT when an
 * entity is malformed or a truncated page has no token (nothing is returned
 * then); IP_OK otherwise, also for zero keys. */
ip_status stor_xml_list_parse(const char *xml, size_t len, char ***keys, size_t *n, char **next);

/* Reads a quiet multi-object delete answer: returns how many <Error> entries
 * it has and the first one's Key, Code and Message ("" when absent). */
size_t stor_xml_delete_result(const char *xml, size_t len, char *key, size_t keylen, char *code,
                              size_t codelen, char *msg, size_t msglen);

#endif
