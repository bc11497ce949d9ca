"""Uploads go before regenerations: with a regeneration backlog running, a
new upload becomes ready while the backlog is still far from drained (the
processor's own counters say so, not a clock)."""
import os

from conftest import gw, imgctl_run, metrics, restore_presets, set_preset, upload_ready  # noqa: F401

BACKLOG = 150


def test_upload_ready_before_backlog_drains(tmp_path, restore_presets):
    # Real work for each regeneration: a picture large enough that remaking
    # its resized variant takes a while, and a preset change that makes it stale.
    data = gw.vips_make(str(tmp_path / "big.jpg"), 1024, 768)
    ids = upload_ready(data, BACKLOG, "backlog.jpg")
    set_preset("resized", "width=%d" % (restore_presets["resized"]["width"] - 80))

    m0 = metrics()
    done0 = m0["proc_regen_done_total"]
    r = imgctl_run("regenerate", "--id", *ids)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("regenerate: %d queued" % BACKLOG), r.stdout

    # The backlog is being worked on before the upload comes.
    end = gw.time.monotonic() + 120
    while metrics()["proc_regen_done_total"] < done0 + 1:
        assert gw.time.monotonic() < end, "no regeneration ran"
        gw.time.sleep(0.05)

    small = gw.vips_make(str(tmp_path / "small.jpg"), 64, 48)
    new = gw.upload_ok(small, "urgent.jpg")["id"]
    assert gw.wait_status(new, deadline_s=300)["status"] == "ready"
    m = metrics()
    done = m["proc_regen_done_total"] - done0
    left = m["proc_regen_waiting"] + m["proc_regen_running"]
    assert done < BACKLOG / 2, "the upload waited for %d of %d regenerations" % (done, BACKLOG)
    assert left > 0, m

    # And the backlog still drains afterwards.
    end = gw.time.monotonic() + 600
    while metrics()["proc_regen_done_total"] < done0 + BACKLOG:
        assert gw.time.monotonic() < end, "the backlog did not drain"
        gw.time.sleep(0.5)
