"""`imgctl webhooks` against the running stack: create (for a key, own
images only) prints the secret once and the subscription shows over the API
to that key; list (all, and by key) never shows the secret; deliveries
prints the log after an upload with the key; resend; delete cancels and
prints how many, after which the API answers 404; usage errors exit 2
before any call."""
import subprocess
import os

from conftest import _made as made
from conftest import ATTEMPT_S, gw, upload_ready


def run(*args):
    exe = os.path.join(gw.build_dir(), "common", "imgctl")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def lines(out):
    return out if isinstance(out, list) else ([out] if out else [])


def test_imgctl_webhooks(receiver):
    key = gw.make_key("upload")
    sub = gw.imgctl("webhooks", "create", receiver.url(), "--events", "ready,deleted", "--key",
                    key["id"], "--own", "--description", "from imgctl")
    made.append(sub["id"])  # deleted after the test should it stop early
    assert sub["secret"].startswith("whsec_")
    assert sub["events"] == ["image.ready", "image.deleted"] and sub["images"] == "own"
    assert sub["key_id"] == key["id"] and sub["description"] == "from imgctl"
    r = gw.get("/webhooks/%s" % sub["id"], headers=gw.bearer(key["key"]))
    assert r.status_code == 200 and r.json()["url"] == receiver.url(), r.text

    everyone = lines(gw.imgctl("webhooks", "list"))
    assert sub["id"] in [s["id"] for s in everyone]
    assert all("secret" not in s for s in everyone)
    by_key = lines(gw.imgctl("webhooks", "list", "--key", key["id"]))
    assert [s["id"] for s in by_key] == [sub["id"]]

    image_id = upload_ready(key)
    receiver.wait(1, deadline_s=10 * ATTEMPT_S, image_id=image_id)
    log = gw.imgctl("webhooks", "deliveries", sub["id"], "--limit", "5")
    log = lines(log)
    assert len(log) == 1 and log[0]["image_id"] == image_id and log[0]["event"] == "image.ready"
    d = log[0]
    assert d["state"] in ("pending", "delivered")
    resent = gw.imgctl("webhooks", "resend", sub["id"], d["id"])
    assert resent["id"] == d["id"] and resent["state"] == "pending"
    receiver.wait(2, deadline_s=10 * ATTEMPT_S, image_id=image_id)

    gone = gw.imgctl("webhooks", "delete", sub["id"])
    assert gone["id"] == sub["id"] and gone["cancelled"] >= 0
    gw.problem(gw.get("/webhooks/%s" % sub["id"], headers=gw.bearer(key["key"])), 404)
    assert sub["id"] not in [s["id"] for s in lines(gw.imgctl("webhooks", "list"))]
    r = run("webhooks", "delete", sub["id"])
    assert r.returncode == 1 and "not found" in r.stderr, r.stderr

    for bad in (["webhooks", "create", "ftp://x/"], ["webhooks", "create", receiver.url(), "--own"],
                ["webhooks", "create", receiver.url(), "--events", "ready,bogus"],
                ["webhooks", "delete", "nope"], ["webhooks", "deliveries", sub["id"], "--limit", "0"],
                ["webhooks", "resend", sub["id"], "msg_1"], ["webhooks", "frobnicate"]):
        r = run(*bad)
        assert r.returncode == 2 and "usage: imgctl webhooks" in r.stderr, (bad, r.stderr)
