"""`imgctl presets`: a change makes the existing variants stale (the REST
info says so, per variant) without touching their bytes, and bad values are
refused with the field named and nothing changed."""
from conftest import gw, imgctl_run, presets, set_preset, restore_presets, jpg  # noqa: F401


def test_preset_change_makes_variants_stale(jpg, restore_presets):
    ids = [gw.upload_ok(jpg, "stale.jpg")["id"] for _ in range(2)]
    infos = [gw.wait_status(i) for i in ids]
    for inf in infos:
        assert inf["status"] == "ready", inf
        assert all(not v["stale"] for v in inf["variants"].values()), gw.pretty(inf)
    before, stale_before = presets()
    thumb = before["thumbnail"]

    version = set_preset("thumbnail", "width=%d" % (thumb["width"] - 20))
    assert version == thumb["version"] + 1

    after, stale_after = presets()
    assert after["thumbnail"]["version"] == version
    assert after["thumbnail"]["width"] == thumb["width"] - 20
    assert stale_after >= stale_before + len(ids)
    for i, old in zip(ids, infos):
        inf = gw.info(i).json()
        assert inf["status"] == "ready"
        t = inf["variants"]["thumbnail"]
        assert t["stale"] is True and t["preset_version"] == thumb["version"], gw.pretty(t)
        # The other kinds did not change, and the stale one is still served as it was.
        for kind in ("resized", "watermarked"):
            assert inf["variants"][kind]["stale"] is False
        assert t["url"] == old["variants"]["thumbnail"]["url"]
        from conftest import media
        assert media(t["url"]).status_code == 200

    # Setting the same definition again changes nothing.
    r = imgctl_run("presets", "set", "thumbnail", "width=%d" % (thumb["width"] - 20))
    assert r.returncode == 0 and "unchanged (version %d)" % version in r.stdout, r.stdout


def test_presets_set_refuses_bad_values():
    before, _ = presets()
    cases = [
        (["thumbnail", "width=0"], "width"),
        (["thumbnail", "width=9000"], "width"),
        (["resized", "jpeg_quality=abc"], "jpeg_quality"),
        (["resized", "fit=stretch"], "fit"),
        (["watermarked", "watermark.opacity=2"], "watermark.opacity"),
        (["watermarked", "watermark.margin=0.5"], "watermark.margin"),
        (["thumbnail", "colour=red"], "colour"),
        (["nosuchkind", "width=10"], "nosuchkind"),
    ]
    for args, field in cases:
        r = imgctl_run("presets", "set", *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert field in r.stderr, (args, r.stderr)
    after, _ = presets()
    assert {k: p["version"] for k, p in after.items()} == {k: p["version"] for k, p in before.items()}
