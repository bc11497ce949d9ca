/* gw_fixture — writes small test images for the gateway's e2e tests, and
 * reads back what a served file holds.
 *
 *   gw_fixture OUT WIDTH HEIGHT
 *   gw_fixture --solid OUT WIDTH HEIGHT R G B [A]
 *   gw_fixture --header FILE
 *
 * The first writes a smooth gradient (so encoders and the processor see
 * ordinary pixels). --solid writes one colour (with an alpha band when A is
 * given) and attaches the metadata a camera or an editor leaves: an EXIF
 * block (orientation and a camera make), an XMP packet and an sRGB ICC
 * profile, so a test can check that none of it survives processing. Both
 * save in the format OUT's suffix names (.jpg .png .webp .gif .tif .avif
 * .heic). --header loads FILE, decodes every pixel (a truncated file fails)
 * and prints one JSON line: {"width", "height", "bands", "loader", "fields":
 * [every metadata field name], "mean": [per band]}. All with libvips — the
 * library the project builds against, so the tests need no image
 * command-line tools. Exit 0 on success, 1 with a message otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

static int gradient(const char *out, int w, int h)
{
    VipsImage *xyz = NULL, *rgb = NULL, *u8 = NULL, *sum = NULL, *joined = NULL;
    VipsImage *b[3] = {NULL, NULL, NULL};
    int rc = 1;
    /* x, y -> bands x, y, and x+y scaled into 0..255. */
    if (w <= 0 || h <= 0 || vips_xyz(&xyz, w, h, NULL))
        goto done;
    if (vips_extract_band(xyz, &b[0], 0, NULL) || vips_extract_band(xyz, &b[1], 1, NULL) ||
        vips_add(b[0], b[1], &sum, NULL))
        goto done;
    b[2] = sum;
    if (vips_bandjoin(b, &joined, 3, NULL))
        goto done;
    double scale[3] = {255.0 / w, 255.0 / h, 127.0 / (w + h)};
    double offset[3] = {0, 0, 64};
    if (vips_linear(joined, &rgb, scale, offset, 3, "uchar", TRUE, NULL))
        goto done;
    if (vips_copy(rgb, &u8, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_image_write_to_file(u8, out, NULL))
        goto done;
    rc = 0;
done:;
    VipsImage *all[] = {xyz, rgb, u8, b[0], b[1], sum, joined};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            g_object_unref(all[i]);
    return rc;
}

/* A little-endian EXIF block: "Exif\0\0", the TIFF header, one IFD of two
 * entries (Make "Fixture", Orientation 1) and no next IFD. */
static const unsigned char exif_block[] = {
    'E',  'x',  'i', 'f', 0,   0,                        /* APP1 identifier */
    'I',  'I',  42,  0,   8,   0,   0,   0,              /* TIFF header, IFD0 at 8 */
    2,    0,                                             /* two entries */
    0x0f, 0x01, 2,   0,   8,   0,   0,   0, 38, 0, 0, 0, /* Make, ASCII, 8, at 38 */
    0x12, 0x01, 3,   0,   1,   0,   0,   0, 1,  0, 0, 0, /* Orientation, SHORT, 1 */
    0,    0,    0,   0,                                  /* no next IFD */
    'F',  'i',  'x', 't', 'u', 'r', 'e', 0,              /* the Make text */
};

static const char xmp_packet[] =
    "<?xpacket begin=\"\xef\xbb\xbf\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>"
    "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF "
    "xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" dc:format=\"image/png\"/></rdf:RDF>"
    "</x:xmpmeta><?xpacket end=\"w\"?>";

static int solid(const char *out, int w, int h, const double *ink, int bands)
{
    VipsImage *black = NULL, *col = NULL, *tagged = NULL;
    VipsBlob *icc = NULL;
    int rc = 1;
    double one[4] = {0, 0, 0, 0};
    if (w <= 0 || h <= 0 || vips_black(&black, w, h, "bands", bands, NULL) ||
        vips_linear(black, &col, one, ink, bands, "uchar", TRUE, NULL) ||
        vips_copy(col, &tagged, "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
        goto done;
    if (vips_profile_load("srgb", &icc, NULL))
        goto done;
    size_t icc_len;
    const void *icc_data = vips_blob_get(icc, &icc_len);
    vips_image_set_blob_copy(tagged, VIPS_META_ICC_NAME, icc_data, icc_len);
    vips_image_set_blob_copy(tagged, VIPS_META_EXIF_NAME, exif_block, sizeof exif_block);
    vips_image_set_blob_copy(tagged, VIPS_META_XMP_NAME, xmp_packet, strlen(xmp_packet));
    if (vips_image_write_to_file(tagged, out, NULL))
        goto done;
    rc = 0;
done:
    if (icc)
        vips_area_unref(VIPS_AREA(icc));
    VipsImage *all[] = {black, col, tagged};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            g_object_unref(all[i]);
    return rc;
}

/* Prints a JSON string of `s`, which holds field names (ASCII). */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    putchar('"');
}

static int header(const char *file)
{
    VipsImage *im = vips_image_new_from_file(file, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!im)
        return 1;
    /* The mean of each band: decodes every pixel. */
    VipsImage *st = NULL;
    if (vips_stats(im, &st, NULL)) {
        g_object_unref(im);
        return 1;
    }
    const char *loader = NULL;
    if (vips_image_get_typeof(im, "vips-loader"))
        vips_image_get_string(im, "vips-loader", &loader);
    printf("{\"width\":%d,\"height\":%d,\"bands\":%d,\"loader\":", vips_image_get_width(im),
           vips_image_get_height(im), vips_image_get_bands(im));
    json_str(loader ? loader : "");
    printf(",\"fields\":[");
    gchar **fields = vips_image_get_fields(im);
    for (int i = 0; fields[i]; i++) {
        if (i)
            putchar(',');
        json_str(fields[i]);
    }
    g_strfreev(fields);
    printf("],\"mean\":[");
    for (int b = 0; b < vips_image_get_bands(im); b++)
        printf("%s%.3f", b ? "," : "", *VIPS_MATRIX(st, 4, b + 1));
    printf("]}\n");
    g_object_unref(st);
    g_object_unref(im);
    return 0;
}

int main(int argc, char **argv)
{
    if (VIPS_INIT(argv[0]))
        return 1;
    int rc = 2;
    if (argc == 4 && argv[1][0] != '-') {
        rc = gradient(argv[1], atoi(argv[2]), atoi(argv[3]));
    } else if (argc >= 8 && argc <= 9 && strcmp(argv[1], "--solid") == 0) {
        double ink[4];
        for (int i = 0; i < argc - 5; i++)
            ink[i] = atof(argv[5 + i]);
        rc = solid(argv[2], atoi(argv[3]), atoi(argv[4]), ink, argc - 5);
    } else if (argc == 3 && strcmp(argv[1], "--header") == 0) {
        rc = header(argv[2]);
    } else {
        fprintf(stderr, "usage: gw_fixture OUT WIDTH HEIGHT\n"
                        "       gw_fixture --solid OUT WIDTH HEIGHT R G B [A]\n"
                        "       gw_fixture --header FILE\n");
    }
    if (rc == 1)
        fprintf(stderr, "gw_fixture: %s\n", vips_error_buffer());
    vips_shutdown();
    return rc;
}
