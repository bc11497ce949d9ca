"""What the processor stores and the gateway serves, seen from outside (through nginx).

- Every file of every variant that the info lists (`formats`: the primary,
  then WebP, then AVIF) is served at its URL with exactly its size in bytes,
  decodes to the variant's width and height in its own format, and carries
  no metadata (no exif-data, icc-profile-data, xmp-data), although the upload
  had all three.
- GET /api/image/{id} chooses by Accept: WebP or AVIF only for a client that
  names them, the primary for */* alone or no Accept, q=0 excludes; the
  bytes are those of the chosen file's URL, with its Content-Type and
  `Vary: Accept` (the answer is an X-Accel-Redirect that nginx completes).
  `?format=` forces a file (404 when the variant lacks it, 400 for a name
  that is not a format). AVIF once the preset stores it (`imgctl presets
  set thumbnail avif=true`, put back afterwards).
- The placeholder: the ThumbHash decodes (thumbhash.py) to a picture of the
  upload's aspect ratio and of its colour (solid uploads of each shape, one
  half transparent; a gradient whose corners must come back), and the
  dominant colour is #rrggbb near the colour of a solid-colour upload.
- A listing item shows the same formats and placeholder as the info.
"""
import json
import os
import re
import subprocess
import tempfile

import pytest
import requests

from conftest import (API, _fixture_tool, build_dir, bearer, delete_own, get, problem, upload_ok,
                      vips_make, wait_status)
from thumbhash import ThumbHash

SITE = API[: -len("/api")]
CTYPE = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
LOADER = {"jpeg": "jpegload", "png": "pngload", "webp": "webpload", "avif": "heifload"}
ORDER = ["jpeg", "png", "webp", "avif"]  # the primary (jpeg or png), then webp, then avif
METADATA = ("exif-data", "icc-profile-data", "xmp-data")
COLOUR = (200, 40, 30)


def fixture_tool():
    tool = _fixture_tool()
    assert tool, "gw_fixture is not built (IP_GW_FIXTURE or IP_GW_BUILD_DIR)"
    return tool


def solid(w, h, rgba, ext):
    """A one-colour picture carrying EXIF, XMP and an ICC profile."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "solid." + ext)
        subprocess.run([fixture_tool(), "--solid", path, str(w), str(h), *map(str, rgba)],
                       check=True, capture_output=True)
        return open(path, "rb").read()


def header(data):
    """What libvips reads in `data`: width, height, bands, loader, fields, mean."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        r = subprocess.run([fixture_tool(), "--header", f.name], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


def media(url):
    r = requests.get(SITE + url, timeout=30)
    assert r.status_code == 200, (url, r.status_code)
    return r


def upload_ready(data, name, ops):
    body = upload_ok(data, name, ops=ops)
    done = wait_status(body["id"])
    assert done["status"] == "ready", done
    return body, done


@pytest.fixture(scope="module")
def photo():
    """A solid-colour JPEG with metadata, every variant made."""
    body, done = upload_ready(solid(200, 100, COLOUR, "jpg"), "photo.jpg",
                              "thumbnail,resized,watermarked")
    yield body, done
    assert delete_own(body).status_code in (202, 204)


def served(image_id, variant, accept=None, fmt=None):
    q = "?variant=%s" % variant + ("&format=%s" % fmt if fmt is not None else "")
    headers = {"Accept": accept} if accept is not None else {}
    return get("/image/%s%s" % (image_id, q), headers=headers)


def files_of(variant):
    """The bytes behind each URL of a variant's formats."""
    return {fmt: media(f["url"]).content for fmt, f in variant["formats"].items()}


# ------------------------------------------------------------------ formats


def test_every_format_decodes_to_its_size_without_metadata(photo):
    _, done = photo
    assert set(done["variants"]) == {"thumbnail", "resized", "watermarked"}
    for name, v in done["variants"].items():
        assert v["status"] == "ready" and v["stale"] is False and v["preset_version"] >= 1, v
        formats = list(v["formats"])
        # The primary first (the variant's own url, size and format), then webp, then avif.
        assert formats and formats[0] == v["format"] and v["format"] in ("jpeg", "png"), v
        assert v["formats"][v["format"]] == {"url": v["url"], "size": v["size"]}, v
        assert formats == sorted(formats, key=ORDER.index), v
        assert "webp" in formats, "the default presets store WebP: %s" % v
        for fmt, f in v["formats"].items():
            assert re.fullmatch(r"/media/%s/%s(\.v\d+)?\.[a-z]+" % (done["id"], name), f["url"]), f
            r = media(f["url"])
            assert r.headers["Content-Type"] == CTYPE[fmt], (f, r.headers)
            assert len(r.content) == f["size"], (name, fmt, len(r.content), f)
            h = header(r.content)
            assert h["loader"] == LOADER[fmt], (name, fmt, h)
            assert (h["width"], h["height"]) == (v["width"], v["height"]), (name, fmt, h, v)
            assert not [m for m in METADATA if m in h["fields"]], (name, fmt, h["fields"])


def test_upload_had_the_metadata_that_must_go():
    """The check above means something: the upload itself carries all three."""
    h = header(solid(20, 10, COLOUR, "jpg"))
    assert all(m in h["fields"] for m in METADATA), h["fields"]


# ------------------------------------------------------------------ Accept and ?format=

ACCEPTS = [
    ("image/avif,image/webp,*/*", "webp"),  # AVIF not stored by the default presets
    ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "webp"),
    ("image/webp", "webp"),
    ("IMAGE/WEBP ; Q=0.9, image/jpeg;q=0.5", "webp"),
    ("image/jpeg", "jpeg"),
    ("image/webp;q=0,*/*", "jpeg"),
    ("image/webp;q=0.4,image/jpeg;q=0.8", "jpeg"),
    ("*/*", "jpeg"),  # a client naming nothing may not decode WebP
    ("image/*", "jpeg"),
    ("image/png", "jpeg"),  # nothing acceptable: the primary, never 406
    ("", "jpeg"),
    (None, "jpeg"),
]


@pytest.mark.parametrize("accept,want", ACCEPTS)
def test_accept_chooses_the_file(photo, accept, want):
    _, done = photo
    v = done["variants"]["thumbnail"]
    r = served(done["id"], "thumbnail", accept)
    assert r.status_code == 200, r.text[:200]
    assert r.content == media(v["formats"][want]["url"]).content, (accept, want)
    assert r.headers["Content-Type"] == CTYPE[want], r.headers
    assert "accept" in [x.strip().lower() for x in r.headers.get("Vary", "").split(",")], r.headers


def test_the_default_variant_is_negotiated_too(photo):
    _, done = photo
    v = done["variants"]["watermarked"]
    r = get("/image/%s" % done["id"], headers={"Accept": "image/webp,*/*"})
    assert r.status_code == 200 and r.content == media(v["formats"]["webp"]["url"]).content
    assert "Accept" in r.headers.get("Vary", "")


def test_format_forces_a_file(photo):
    body, done = photo
    v = done["variants"]["resized"]
    r = served(done["id"], "resized", "image/jpeg", fmt="webp")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/webp"
    assert r.content == media(v["formats"]["webp"]["url"]).content
    r = served(done["id"], "resized", "image/webp", fmt="jpeg")
    assert r.status_code == 200 and r.content == media(v["url"]).content
    # Not stored in that format: 404 naming format; not a format: 400.
    assert problem(served(done["id"], "resized", fmt="avif"), 404)["param"] == "format"
    for bad in ("gif", "original", "WEBP", ""):
        assert problem(served(done["id"], "resized", fmt=bad), 400)["param"] == "format"
    r = get("/image/%s?variant=original&format=jpeg" % done["id"],
            headers=bearer(body["owner_token"]))
    assert problem(r, 400)["param"] == "format"


def test_hostile_accept_is_served_the_primary(photo):
    _, done = photo
    v = done["variants"]["thumbnail"]
    primary = media(v["url"]).content
    for accept in ("image/webp," * 40 + "image/webp",  # more ranges than counted
                   "image/webp;" + "a=b;" * 600,  # longer than parsed
                   "image/webp;q=\"0.9", "\x7f/\x7f;q=1,,,;;;", "image/webp;q=1.5"):
        r = served(done["id"], "thumbnail", accept)
        assert r.status_code == 200 and r.content == primary, accept[:40]


def imgctl_presets(*args):
    exe = os.path.join(build_dir(), "common", "imgctl")
    r = subprocess.run([exe, "presets", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_avif_when_the_preset_stores_it(tmp_path):
    imgctl_presets("set", "thumbnail", "avif=true")
    try:
        body, done = upload_ready(vips_make(str(tmp_path / "g.png"), 96, 64), "g.png", "thumbnail")
    finally:
        imgctl_presets("set", "thumbnail", "avif=false")
    try:
        v = done["variants"]["thumbnail"]
        assert list(v["formats"]) == ["jpeg", "webp", "avif"], v
        files = files_of(v)
        for fmt, data in files.items():
            assert len(data) == v["formats"][fmt]["size"]
            h = header(data)
            assert h["loader"] == LOADER[fmt] and (h["width"], h["height"]) == (v["width"], v["height"])
            assert not [m for m in METADATA if m in h["fields"]], (fmt, h["fields"])
        for accept, want in (("image/avif,image/webp,*/*", "avif"), ("image/webp,*/*", "webp"),
                             ("image/avif;q=0.5,image/webp", "webp"), ("image/avif;q=0,image/webp", "webp"),
                             ("image/webp;q=0.5,image/avif;q=0.5", "avif"), ("*/*", "jpeg")):
            r = served(done["id"], "thumbnail", accept)
            assert r.status_code == 200 and r.content == files[want], (accept, want)
            assert r.headers["Content-Type"] == CTYPE[want] and "Accept" in r.headers.get("Vary", "")
        r = served(done["id"], "thumbnail", "image/jpeg", fmt="avif")
        assert r.status_code == 200 and r.content == files["avif"]
    finally:
        assert delete_own(body).status_code in (202, 204)


# ------------------------------------------------------------------ placeholders

PLACEHOLDER_CASES = [
    (200, 100, COLOUR, "jpg"),  # landscape 2:1
    (90, 300, (20, 120, 220), "png"),  # portrait 3:10
    (150, 150, (30, 160, 60), "png"),  # square
    (120, 80, (240, 200, 40, 128), "png"),  # half transparent
]


@pytest.mark.parametrize("w,h,rgba,ext", PLACEHOLDER_CASES)
def test_placeholder_has_the_pictures_shape_and_colour(w, h, rgba, ext):
    body, done = upload_ready(solid(w, h, rgba, ext), "solid." + ext, "thumbnail")
    try:
        p = done["placeholder"]
        assert p is not None and set(p) == {"thumbhash", "color"}, done
        assert re.fullmatch(r"#[0-9a-f]{6}", p["color"]), p
        th = ThumbHash(p["thumbhash"])
        # The aspect ratio: the longer side has 7 coefficients (5 with alpha),
        # the shorter round(7 * shorter / longer) of them, from a picture
        # scaled down for hashing (so one step either way of the rounding).
        assert th.is_landscape == (w > h), (w, h, p)
        longer = 5 if th.has_alpha else 7
        assert max(th.nx, th.ny) == longer, (th.nx, th.ny)
        assert abs(min(th.nx, th.ny) - longer * min(w, h) / max(w, h)) <= 1.0, (th.nx, th.ny, w, h)
        dw, dh = th.size()
        assert (dw >= dh) == (w >= h) and abs(dw / dh - th.aspect_ratio()) < 0.1, (dw, dh)
        # The colour: the hash's average, every decoded pixel and the dominant colour.
        rgb = rgba[:3]
        avg = [round(c * 255) for c in th.average_rgb()]
        assert all(abs(a - c) <= 16 for a, c in zip(avg, rgb)), (avg, rgb, p)
        _, _, px = th.decode()
        assert all(abs(q[i] - rgb[i]) <= 24 for q in px for i in range(3)), (px[:4], rgb)
        if len(rgba) == 3:
            dom = [int(p["color"][i:i + 2], 16) for i in (1, 3, 5)]
            assert all(abs(a - c) <= 24 for a, c in zip(dom, rgb)), (p["color"], rgb)
    finally:
        assert delete_own(body).status_code in (202, 204)


def test_placeholder_keeps_where_the_colours_are(tmp_path):
    """A gradient (red grows to the right, green downwards, blue along the
    diagonal): the decoded ThumbHash has the picture's colour in each corner,
    so its coefficients are the picture's and not only its average."""
    w, h = 160, 120
    body, done = upload_ready(vips_make(str(tmp_path / "g.png"), w, h), "g.png", "thumbnail")
    try:
        th = ThumbHash(done["placeholder"]["thumbhash"])
        dw, dh, px = th.decode()
        for x, y in ((0, 0), (dw - 1, 0), (0, dh - 1), (dw - 1, dh - 1), (dw // 2, dh // 2)):
            fx, fy = (x + 0.5) / dw * w, (y + 0.5) / dh * h  # the same place in the picture
            want = (255 * fx / w, 255 * fy / h, 64 + 127 * (fx + fy) / (w + h))
            got = px[y * dw + x]
            assert all(abs(got[i] - want[i]) <= 48 for i in range(3)), ((x, y), got, want)
    finally:
        assert delete_own(body).status_code in (202, 204)


# ------------------------------------------------------------------ listings


def test_listing_items_carry_formats_and_placeholder(photo):
    _, done = photo
    now = get("/image/%s/info" % done["id"]).json()
    for mode in (None, "resized"):
        r = get("/images?limit=100" + ("&mode=%s" % mode if mode else ""))
        assert r.status_code == 200
        items = [i for i in r.json()["items"] if i["id"] == done["id"]]
        assert len(items) == 1, "the image is among the newest 100"
        item = items[0]
        assert item["placeholder"] == now["placeholder"] and item["placeholder"] is not None
        assert item["variants"] == now["variants"]
        assert item["url"] == now["variants"][mode or "thumbnail"]["url"]
        for v in item["variants"].values():
            for f in v["formats"].values():
                assert len(media(f["url"]).content) == f["size"]
