"""The sweep: an upload whose job never reached Kafka (a gateway that died
between CreateImage and the produce) is re-enqueued from ListStale and gets
processed. The stuck upload is made with imgctl: the original via storage-svc
and a pending, never-enqueued row created a minute in the past."""
import base64
import json
import os
import subprocess
import time
import uuid

from conftest import API, ROOT, session, wait_status


def imgctl(*args, stdin=None):
    build = os.environ.get("IP_BUILD_DIR") or os.environ.get("IP_GW_BUILD_DIR") or os.path.join(ROOT, "build", "release")
    exe = os.path.join(build, "common", "imgctl")
    if not os.path.isabs(exe):
        exe = os.path.join(ROOT, exe)
    r = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout or "{}")


def uuid7(ms):
    r = uuid.uuid4().int
    v = (ms << 80) | (0x7 << 76) | ((r >> 64) & ((1 << 12) - 1)) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


def test_stale_upload_is_reenqueued(png):
    created_ms = int(time.time() * 1000) - 60000
    iid = uuid7(created_ms)
    key = "o/" + iid
    imgctl("storage", "PutObject", "-", stdin=json.dumps(
        {"key": key, "data": base64.b64encode(png).decode(), "content_type": "image/png"}))
    imgctl("metadata", "CreateImage", "-", stdin=json.dumps({"image": {
        "id": iid, "created_at_us": created_ms * 1000, "filename": "stale.png",
        "content_type": "image/png", "size_bytes": len(png), "width": 64, "height": 48,
        "sha256": "0" * 64, "requested": ["VARIANT_THUMBNAIL"], "original_key": key}}))
    # The sweep runs every IP_GATEWAY_SWEEP_INTERVAL_MS (10 s by default).
    done = wait_status(iid, deadline_s=90)
    assert done["status"] == "ready", done
    assert session.delete(API + "/image/%s" % iid, timeout=10).status_code == 204
