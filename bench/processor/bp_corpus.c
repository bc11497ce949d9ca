/* bp_corpus.c — the corpora, held in memory.
 *
 * All come from Debian's plasma-workspace-wallpapers (5120x2880, 14.7 MP):
 * - wallpapers: the JPEGs of Flow, Honeywave, SafeLanding and Shell, each
 *   repeated `copies` times, interleaved (item i is file i % 4);
 * - mixed: ten wallpapers (five JPEG, five PNG of which three RGBA) plus a
 *   9600x5400 (52 MP) baseline JPEG (Q90, 4:4:4) and a progressive one (Q85,
 *   4:2:0, as web exports are) cut from the first tiled 2x2 — made once and
 *   kept in the scratch directory; largest first, one item each;
 * - latency: the Flow JPEG, one item.
 * Files are read once into memory; width and height come from the header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h>

#include "bench_processor.h"

#define WALL "/usr/share/wallpapers/"

double bp_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

double bp_tv_s(struct timeval tv)
{
    return tv.tv_sec + tv.tv_usec / 1e6;
}

static bool ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static bool add_file(bp_corpus *c, const char *path)
{
    if (c->nfiles >= BP_MAX_FILES)
        return false;
    bp_file *f = &c->files[c->nfiles];
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->type = ends_with(path, ".png") ? "image/png" : "image/jpeg";
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fprintf(stderr, "corpus: cannot read %s (apt-get install plasma-workspace-wallpapers)\n",
                path);
        return false;
    }
    VipsImage *h = vips_image_new_from_buffer(data, len, "", NULL);
    if (!h) {
        fprintf(stderr, "corpus: %s: %s\n", path, vips_error_buffer());
        vips_error_clear();
        g_free(data);
        return false;
    }
    f->w = h->Xsize;
    f->h = h->Ysize;
    g_object_unref(h);
    f->data = data;
    f->len = len;
    c->nfiles++;
    return true;
}

static int by_pixels_desc(const void *a, const void *b)
{
    const bp_file *x = a, *y = b;
    double px = (double)x->w * x->h, py = (double)y->w * y->h;
    return px < py ? 1 : px > py ? -1 : strcmp(x->path, y->path);
}

/* 52 MP: `from` tiled 2x2 and cut, baseline (base) and progressive (prog),
 * written unless both are there already. */
static void make_tiles(const char *from, const char *base, const char *prog)
{
    if (access(base, R_OK) == 0 && access(prog, R_OK) == 0)
        return;
    VipsImage *in = vips_image_new_from_file(from, NULL), *t = NULL, *u = NULL;
    if (in && vips_replicate(in, &u, 2, 2, NULL) == 0 &&
        vips_crop(u, &t, 0, 0, 9600, 5400, NULL) == 0) {
        vips_jpegsave(t, base, "Q", 90, NULL);
        VipsImage *t2 = vips_image_new_from_file(base, NULL);
        if (t2) {
            vips_jpegsave(t2, prog, "Q", 85, "interlace", TRUE, "subsample_mode",
                          VIPS_FOREIGN_SUBSAMPLE_ON, NULL);
            g_object_unref(t2);
        }
    }
    if (t)
        g_object_unref(t);
    if (u)
        g_object_unref(u);
    if (in)
        g_object_unref(in);
}

static bool load_mixed(bp_corpus *c, const char *scratch)
{
    static const char *const wall[] = {
        "Flow/contents/images/5120x2880.jpg",        "Honeywave/contents/images/5120x2880.jpg",
        "SafeLanding/contents/images/5120x2880.jpg", "Shell/contents/images/5120x2880.jpg",
        "Volna/contents/images/5120x2880.jpg",       "Altai/contents/images/5120x2880.png",
        "IceCold/contents/images/5120x2880.png",     "Kay/contents/images/5120x2880.png",
        "MilkyWay/contents/images/5120x2880.png",    "Patak/contents/images/5120x2880.png",
    };
    char path[600];
    for (size_t i = 0; i < sizeof(wall) / sizeof(wall[0]); i++) {
        snprintf(path, sizeof(path), WALL "%s", wall[i]);
        if (!add_file(c, path))
            return false;
    }
    mkdir(scratch, 0755);
    char base[600], prog[600];
    snprintf(base, sizeof(base), "%s/tiled-52mp.jpg", scratch);
    snprintf(prog, sizeof(prog), "%s/tiled-52mp-progressive-420.jpg", scratch);
    make_tiles(c->files[0].path, base, prog);
    if (!add_file(c, base) || !add_file(c, prog))
        return false;
    qsort(c->files, (size_t)c->nfiles, sizeof(c->files[0]), by_pixels_desc);
    for (int i = 0; i < c->nfiles; i++)
        c->item_file[c->nitems++] = i;
    return true;
}

bool bp_corpus_load(bp_corpus *c, const char *name, const char *scratch, int copies)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    bool ok = false;
    if (strcmp(name, "wallpapers") == 0) {
        ok = add_file(c, WALL "Flow/contents/images/5120x2880.jpg") &&
             add_file(c, WALL "Honeywave/contents/images/5120x2880.jpg") &&
             add_file(c, WALL "SafeLanding/contents/images/5120x2880.jpg") &&
             add_file(c, WALL "Shell/contents/images/5120x2880.jpg");
        if (copies < 1)
            copies = 1;
        for (int i = 0; ok && i < c->nfiles * copies && c->nitems < BP_MAX_ITEMS; i++)
            c->item_file[c->nitems++] = i % c->nfiles;
    } else if (strcmp(name, "mixed") == 0) {
        ok = load_mixed(c, scratch);
    } else if (strcmp(name, "latency") == 0) {
        ok = add_file(c, WALL "Flow/contents/images/5120x2880.jpg");
        if (ok)
            c->item_file[c->nitems++] = 0;
    } else {
        fprintf(stderr, "corpus: unknown name %s\n", name);
    }
    if (!ok)
        bp_corpus_free(c);
    return ok;
}

void bp_corpus_free(bp_corpus *c)
{
    for (int i = 0; i < c->nfiles; i++)
        g_free(c->files[i].data);
    c->nfiles = 0;
    c->nitems = 0;
}

double bp_corpus_mp(const bp_corpus *c)
{
    double mp = 0;
    for (int i = 0; i < c->nitems; i++) {
        const bp_file *f = &c->files[c->item_file[i]];
        mp += (double)f->w * f->h / 1e6;
    }
    return mp;
}
