/* gw_files.h — the stored files of a variant, as the API shows and serves
 * them.
 *
 * A variant record lists its files (Variant.files: format, key, size; the
 * primary first). A record made before formats existed lists none: its one
 * file is the primary of the record's own fields (object_key, format,
 * size_bytes; the format from the key's extension when the name is
 * missing). The list given out has one file per known format, in the order
 * info documents show them and the choice by Accept reads them: the
 * primary, then WebP, then AVIF. Files of an unknown format, with an empty
 * key, or repeating a format already listed are left out. Pure.
 */
#ifndef GW_FILES_H
#define GW_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "image.pb-c.h"
#include "ip_variants.h"

typedef struct gw_file {
    const ip_format_def *fmt;
    const char *key; /* borrowed from the record */
    int64_t size;
} gw_file;

/* The files of `v` into out[] (room for IP_FORMAT_COUNT); returns how many
 * (0 for v NULL or a record without any usable file). Borrowed from v. */
size_t gw_variant_files(const Imageproc__Variant *v, gw_file out[IP_FORMAT_COUNT]);

/* The preset version that made `v`: its record's, 0 (before presets) read as 1. */
int gw_variant_preset_version(const Imageproc__Variant *v);

#endif
