/* ip_presets.h — the variant presets: their defaults and what a valid one is.
 *
 * A preset (proto/image.proto, message Preset) is everything that decides a
 * variant's bytes: the box and how the picture fits it, the formats stored
 * beside the primary JPEG/PNG and their qualities, and the watermark. The
 * presets in force live in PostgreSQL (table presets, one row per kind),
 * changed only through metadata-svc's SetPreset, which bumps the version when
 * the definition changes; every variant records the version that made it.
 *
 * This file holds the facts every part shares: the seeded defaults (version
 * 1, equal to the rows sql/0004 inserts; a metadata-svc test checks that),
 * the bounds a preset must keep (metadata-svc refuses others, imgctl checks
 * before sending), and which fields make up the definition. Pure and
 * thread-safe; nothing here allocates.
 */
#ifndef IP_PRESETS_H
#define IP_PRESETS_H

#include <stdbool.h>
#include <stddef.h>

#include "image.pb-c.h"
#include "ip_status.h"
#include "ip_variants.h"

#define IP_PRESET_SIZE_MAX 8192          /* a box side, pixels */
#define IP_PRESET_WATERMARK_TEXT_MAX 200 /* bytes of UTF-8 */
#define IP_PRESET_MARGIN_MAX 0.25
#define IP_PRESET_SCALE_MIN 0.01

/* The defaults of one kind, version 1: thumbnail 320x320 cover, resized and
 * watermarked 1280x1280 inside; JPEG Q85, WebP Q80 on, AVIF Q55 off; the
 * watermarked one has the text "ImageProcessor" bottom right, margin 0.02,
 * scale 0.30, opacity 0.55. `p` (and `wm`, used only for kinds that have a
 * watermark) are the caller's storage; strings point to static text and must
 * not be freed. IP_INVALID_ARGUMENT for a kind that is not a variant. */
ip_status ip_preset_default(ip_variant_kind kind, Imageproc__Preset *p, Imageproc__Watermark *wm);

/* IP_OK when `p` is a preset metadata-svc may store: a variant kind; width
 * and height 1..IP_PRESET_SIZE_MAX; fit cover or inside; every quality
 * 1..100; a watermark, if present, with valid UTF-8 text of at most
 * IP_PRESET_WATERMARK_TEXT_MAX bytes, a logo key "" or of ip_key_logo's form,
 * a position 1..5, margin 0..IP_PRESET_MARGIN_MAX, scale
 * IP_PRESET_SCALE_MIN..1, opacity 0..1 (all finite). Otherwise
 * IP_INVALID_ARGUMENT and `err` names the field and the bound. */
ip_status ip_preset_check(const Imageproc__Preset *p, char *err, size_t errlen);

/* True when `a` and `b` define the same bytes: every field but version and
 * updated_at_us. A watermark with neither text nor logo equals none. */
bool ip_preset_same(const Imageproc__Preset *a, const Imageproc__Preset *b);

/* True when the preset draws a watermark (text or logo). */
bool ip_preset_has_watermark(const Imageproc__Preset *p);

/* Names as imgctl and the README spell them: "cover"/"inside";
 * "bottom-right", "bottom-left", "top-right", "top-left", "center". NULL /
 * 0 (UNSPECIFIED) for anything else. */
const char *ip_preset_fit_name(Imageproc__PresetFit fit);
Imageproc__PresetFit ip_preset_fit_parse(const char *name);
const char *ip_watermark_position_name(Imageproc__WatermarkPosition pos);
Imageproc__WatermarkPosition ip_watermark_position_parse(const char *name);

#endif
