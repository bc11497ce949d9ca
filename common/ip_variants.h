/* ip_variants.h — the variant set and the output formats, defined once.
 *
 * The set itself is the enum VariantKind of proto/image.proto; this table gives
 * each kind the facts every part needs: its name as REST, PostgreSQL, the
 * storage keys and the page spell it ("thumbnail"), a title for people, and the
 * rank by which `GET /image/{id}` picks a default variant. The formats a
 * variant is stored in have their own small table: name, file extension,
 * media type, and the preference by which `Accept` picks one. Every variant
 * has one primary file (JPEG, or PNG when the source has alpha), which every
 * browser shows, and, as its preset says, WebP and AVIF beside it.
 *
 * A "mask" is a set of kinds as bits (1u << kind); ops lists in text are comma
 * lists of names ("thumbnail,resized"), written in the canonical (enum) order.
 * Everything here is pure and thread-safe.
 */
#ifndef IP_VARIANTS_H
#define IP_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>

#include "image.pb-c.h"
#include "ip_status.h"

typedef Imageproc__VariantKind ip_variant_kind;

#define IP_VARIANT_NONE IMAGEPROC__VARIANT_KIND__VARIANT_KIND_UNSPECIFIED
#define IP_VARIANT_THUMBNAIL IMAGEPROC__VARIANT_KIND__VARIANT_THUMBNAIL
#define IP_VARIANT_RESIZED IMAGEPROC__VARIANT_KIND__VARIANT_RESIZED
#define IP_VARIANT_WATERMARKED IMAGEPROC__VARIANT_KIND__VARIANT_WATERMARKED

#define IP_VARIANT_COUNT 3 /* kinds 1..IP_VARIANT_COUNT */
/* Longest comma list of every name, with its NUL. */
#define IP_VARIANT_LIST_MAX 32

typedef struct ip_variant_def {
    ip_variant_kind kind;
    const char *name;  /* "thumbnail": REST, SQL, keys, the page */
    const char *title; /* "Thumbnail": for people */
    int serve_rank;    /* GET /image/{id} without ?variant= serves the highest requested */
} ip_variant_def;

/* The table, in canonical order (index i is kind i + 1). */
extern const ip_variant_def ip_variants[IP_VARIANT_COUNT];

/* The definition of `kind`, or NULL when it is not a variant. */
const ip_variant_def *ip_variant_get(ip_variant_kind kind);
/* "thumbnail" for IP_VARIANT_THUMBNAIL; NULL when `kind` is not a variant. */
const char *ip_variant_name(ip_variant_kind kind);
/* The kind named by the first `len` bytes of `name` (exact, case-sensitive);
 * IP_VARIANT_NONE when none is. */
ip_variant_kind ip_variant_parse(const char *name, size_t len);

/* Sets of kinds as bits: the bit of `kind`, 0 when `kind` is not a variant
 * (IP_VARIANT_NONE, or any other int32 that came off the wire). */
static inline unsigned ip_variant_bit(ip_variant_kind kind)
{
    return (int)kind >= 1 && (int)kind <= IP_VARIANT_COUNT ? 1u << (unsigned)kind : 0u;
}
#define IP_VARIANT_MASK_ALL                                                                        \
    ((1u << IP_VARIANT_THUMBNAIL) | (1u << IP_VARIANT_RESIZED) | (1u << IP_VARIANT_WATERMARKED))

/* Parses a comma list of names into a mask (duplicates allowed; empty items,
 * spaces or unknown names are IP_INVALID_ARGUMENT with *bad, if not NULL,
 * pointing at the offending item). An empty text gives an empty mask. */
ip_status ip_variant_mask_parse(const char *text, unsigned *mask, const char **bad);
/* Writes the names of `mask` as a comma list in canonical order; returns the
 * length. `n` >= IP_VARIANT_LIST_MAX always suffices. */
size_t ip_variant_mask_format(unsigned mask, char *buf, size_t n);
/* The kinds of `mask` in canonical order into out[] (room for
 * IP_VARIANT_COUNT); returns how many. */
size_t ip_variant_mask_kinds(unsigned mask, ip_variant_kind *out);
/* The mask of kinds[0..n) ; kinds that are not variants are ignored. */
unsigned ip_variant_mask_of(const ip_variant_kind *kinds, size_t n);

/* ------------------------------------------------------------- formats */

typedef struct ip_format_def {
    const char *name;         /* "jpeg": Variant.format, VariantFile.format, `?format=` */
    const char *ext;          /* "jpg": the key's extension */
    const char *content_type; /* "image/jpeg" */
    int preference;           /* among the files a client accepts, the highest is served:
                                 0 primary (jpeg, png), 1 webp, 2 avif */
} ip_format_def;

#define IP_FORMAT_COUNT 4
extern const ip_format_def ip_format_jpeg;
extern const ip_format_def ip_format_png;
extern const ip_format_def ip_format_webp;
extern const ip_format_def ip_format_avif;
/* Every format: jpeg, png, webp, avif. */
extern const ip_format_def *const ip_formats[IP_FORMAT_COUNT];

/* True for the formats a variant's primary file may have (jpeg, png). */
static inline int ip_format_is_primary(const ip_format_def *f)
{
    return f != NULL && f->preference == 0;
}

/* The format named `name` ("jpeg", "png", "webp", "avif"), or NULL. */
const ip_format_def *ip_format_by_name(const char *name);
/* The format whose extension is `ext` ("jpg", "png"), or NULL. */
const ip_format_def *ip_format_by_ext(const char *ext);

#endif
