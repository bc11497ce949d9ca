/* gw_fixture — writes a small test image for the gateway's e2e tests.
 *
 *   gw_fixture OUT WIDTH HEIGHT
 *
 * A smooth gradient (so encoders and the processor see ordinary pixels), saved
 * in the format OUT's suffix names (.jpg .png .webp .gif .tif .avif .heic),
 * with libvips — the library the project builds against, so the tests need no
 * image command-line tools. Exit 0 on success, 1 with a message otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <vips/vips.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gw_fixture OUT WIDTH HEIGHT\n");
        return 2;
    }
    if (VIPS_INIT(argv[0]))
        return 1;
    int w = atoi(argv[2]), h = atoi(argv[3]);
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
        vips_image_write_to_file(u8, argv[1], NULL))
        goto done;
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "gw_fixture: %s\n", vips_error_buffer());
    VipsImage *all[] = {xyz, rgb, u8, b[0], b[1], sum, joined};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            g_object_unref(all[i]);
    vips_shutdown();
    return rc;
}
