/* gw_files.c — a variant's files from its record (see gw_files.h): the
 * record's list, or its own primary fields when the list is empty, kept one
 * per format and ordered by the format's preference (a stable insertion
 * sort of at most IP_FORMAT_COUNT entries).
 */
#include "gw_files.h"

#include <string.h>

/* The format of a primary kept in the record's own fields: its name, else
 * its key's extension. */
static const ip_format_def *record_format(const char *name, const char *key)
{
    const ip_format_def *f = name ? ip_format_by_name(name) : NULL;
    if (!f && key) {
        const char *dot = strrchr(key, '.');
        f = dot ? ip_format_by_ext(dot + 1) : NULL;
    }
    return f;
}

/* Adds a file unless its format is unknown or already there, or its key is
 * empty; keeps out[] ordered by preference, first come first within one. */
static size_t add(gw_file *out, size_t n, const ip_format_def *f, const char *key, int64_t size)
{
    if (!f || !key || !*key || n == IP_FORMAT_COUNT)
        return n;
    for (size_t i = 0; i < n; i++)
        if (out[i].fmt == f)
            return n;
    size_t at = n;
    while (at > 0 && out[at - 1].fmt->preference > f->preference) {
        out[at] = out[at - 1];
        at--;
    }
    out[at] = (gw_file){.fmt = f, .key = key, .size = size};
    return n + 1;
}

size_t gw_variant_files(const Imageproc__Variant *v, gw_file out[IP_FORMAT_COUNT])
{
    size_t n = 0;
    if (!v)
        return 0;
    for (size_t i = 0; i < v->n_files; i++) {
        const Imageproc__VariantFile *vf = v->files[i];
        if (vf)
            n = add(out, n, vf->format ? ip_format_by_name(vf->format) : NULL, vf->object_key,
                    vf->size_bytes);
    }
    if (n == 0)
        n = add(out, n, record_format(v->format, v->object_key), v->object_key, v->size_bytes);
    return n;
}

int gw_variant_preset_version(const Imageproc__Variant *v)
{
    return v && v->preset_version > 1 ? v->preset_version : 1;
}
