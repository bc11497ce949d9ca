"""A preset change makes an image's variants stale; `imgctl regenerate ...
--wait` brings them to the preset's new version: the new size is what /media
serves, the old objects leave the bucket, and the image stays ready and
served throughout.

The stack is shared with every earlier test, whose images the preset change
makes stale too: `--stale` would remake all of them, so the test checks that
`--stale` selects its images (ListRegenerate, what `--stale` pages through)
and regenerates those by id."""
import json
import threading

from conftest import (gw, imgctl_run, jpeg_size, media, presets, restore_presets,  # noqa: F401
                      jpg, set_preset, upload_ready)


def stale_ids():
    """Every id `imgctl regenerate --stale` would queue now."""
    found, after = set(), ""
    while True:
        r = imgctl_run("metadata", "ListRegenerate",
                       json.dumps({"stale_only": True, "after_id": after, "limit": 1000}))
        assert r.returncode == 0, r.stderr
        page = json.loads(r.stdout)
        images = page.get("images", [])
        found |= {i["id"] for i in images}
        if not page.get("has_more"):
            return found
        after = images[-1]["id"]


def test_regenerate_stale_wait(jpg, restore_presets):
    ids = upload_ready(jpg, 3, "regen.jpg")
    before, _ = presets()
    old = {i: gw.info(i).json() for i in ids}
    box = before["thumbnail"]["width"] - 40
    assert not set(ids) & stale_ids()
    version = set_preset("thumbnail", "width=%d" % box, "height=%d" % box)
    assert set(ids) <= stale_ids()
    for i in ids:
        assert gw.info(i).json()["variants"]["thumbnail"]["stale"] is True

    # Served all along: a reader polls info and the thumbnail while the
    # regeneration runs.
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            for i in ids:
                inf = gw.info(i).json()
                r = media(inf["variants"]["thumbnail"]["url"])
                seen.append((i, inf["status"], r.status_code))

    t = threading.Thread(target=reader)
    t.start()
    try:
        r = imgctl_run("regenerate", "--id", *ids, "--wait")
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("regenerate: %d queued" % len(ids)), r.stdout
    assert lines[-1] == "regenerate: %d/%d done" % (len(ids), len(ids)), r.stdout
    assert seen, "the reader saw nothing"
    bad = [s for s in seen if s[1] != "ready" or s[2] != 200]
    assert not bad, bad[:5]

    assert not set(ids) & stale_ids()
    for i in ids:
        inf = gw.info(i).json()
        assert inf["status"] == "ready"
        t = inf["variants"]["thumbnail"]
        assert t["preset_version"] == version and t["stale"] is False, gw.pretty(t)
        assert (t["width"], t["height"]) == (box, box)
        body = media(t["url"])
        assert body.status_code == 200
        assert jpeg_size(body.content) == (box, box)
        for f in t.get("formats", {}).values():
            assert media(f["url"]).status_code == 200
        old_url = old[i]["variants"]["thumbnail"]["url"]
        assert t["url"] != old_url
        # The old objects leave the bucket (purged once nothing points at them).
        old_keys = {"v/" + u["url"][len("/media/"):] for u in old[i]["variants"]["thumbnail"]["formats"].values()}
        end = gw.time.monotonic() + 60
        while old_keys & set(gw.s3_list("v/%s/" % i)):
            assert gw.time.monotonic() < end, "old keys still stored: %s" % (old_keys & set(gw.s3_list("v/%s/" % i)))
            gw.time.sleep(0.2)
        keys = set(gw.s3_list("v/%s/" % i))
        assert "v/" + t["url"][len("/media/"):] in keys
        # The kinds that were not stale kept their objects.
        assert inf["variants"]["resized"]["url"] == old[i]["variants"]["resized"]["url"]
