"""DELETE: 204 when the objects were removed within the request, then 404
everywhere; a delete in the middle of processing leaves nothing in the bucket
once processing ends; /media/ URLs of a deleted image answer 404. Each
DELETE sends the image's owner token (the 202 gave it). With
object storage down (the S3 server, or storage-svc) DELETE answers 202
{"id", "status": "deleting"} at once, the image is 404 from then on, and the
purger removes the objects once storage is back."""
import time

import pytest

from conftest import (API, delete_own, get, info, objects_of, problem, psql, row_exists, session,
                      stack, upload_ok, vips_make, wait_status)

MEDIA = API.replace("/api", "")


def purge_pending(image_id):
    """The purge record DeleteImage left for this image is still there."""
    return psql("select count(*) from purges where image_id = '%s'" % image_id) != "0"


def test_delete_ready_image(png):
    body = upload_ok(png, "d.png")
    done = wait_status(body["id"])
    urls = [v["url"] for v in done["variants"].values() if v["url"]]
    assert urls
    for u in urls:
        assert session.get(MEDIA + u, timeout=10).status_code == 200
    r = delete_own(body)
    assert r.status_code == 204 and r.content == b""
    problem(get("/image/%s" % body["id"]), 404)
    problem(info(body["id"]), 404)
    problem(delete_own(body), 404)
    for u in urls:
        assert session.get(MEDIA + u, timeout=10).status_code == 404, u
    assert not row_exists(body["id"])
    assert objects_of(body["id"]) == []
    assert not purge_pending(body["id"])


def test_delete_during_processing(tmp_path):
    # Big enough that processing takes a while.
    big = vips_make(str(tmp_path / "big.jpg"), 3000, 2000)
    body = upload_ok(big, "big.jpg")
    iid = body["id"]
    r = delete_own(body)
    assert r.status_code == 204
    problem(get("/image/%s" % iid), 404)
    problem(info(iid), 404)
    # A later upload reaching ready means the processor has moved past the
    # deleted one's job (same processors, jobs taken in order per partition;
    # wait for several to cover the other partitions).
    small = vips_make(str(tmp_path / "s.png"), 32, 32)
    later = [upload_ok(small, "later.png", ops="thumbnail") for _ in range(6)]
    for l in later:
        wait_status(l["id"], deadline_s=120)
    # A processor still finishing the deleted job may write a variant and then
    # remove it when PutVariant answers NOT_FOUND: wait for the bucket to settle.
    end = time.monotonic() + 60
    while objects_of(iid):
        assert time.monotonic() < end, "objects left after the delete: %s" % objects_of(iid)
        time.sleep(0.5)
    assert not row_exists(iid)
    problem(get("/image/%s" % iid), 404)
    for l in later:
        assert delete_own(l).status_code == 204


@pytest.mark.parametrize("component", ["s3", "storage-svc"])
def test_delete_while_storage_down(png, component):
    body = upload_ok(png, "down-%s.png" % component, ops="thumbnail,resized")
    iid = body["id"]
    done = wait_status(iid)
    assert done["status"] == "ready", done
    urls = [v["url"] for v in done["variants"].values() if v["url"]]
    assert urls and objects_of(iid)
    stack("stop", component)
    try:
        t0 = time.monotonic()
        r = delete_own(body, timeout=30)
        took = time.monotonic() - t0
        assert r.status_code == 202, (r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        assert r.json() == {"id": iid, "status": "deleting"}
        # IP_GATEWAY_DELETE_WAIT_MS (2 s by default) bounds the wait.
        assert took < 10, took
        # Gone from the API at once, and the purge is recorded.
        problem(get("/image/%s" % iid), 404)
        problem(info(iid), 404)
        problem(delete_own(body, timeout=30), 404)
        assert not row_exists(iid)
        assert purge_pending(iid)
    finally:
        stack("start", component)
    # The purger (every IP_GATEWAY_PURGE_INTERVAL_MS; a failed attempt is
    # claimed again once its claim runs out) removes the objects.
    end = time.monotonic() + 120
    while objects_of(iid) or purge_pending(iid):
        assert time.monotonic() < end, "purge not finished: objects %s, record %s" % (
            objects_of(iid), purge_pending(iid))
        time.sleep(0.5)
    for u in urls:
        assert session.get(MEDIA + u, timeout=10).status_code == 404, u
    problem(get("/image/%s" % iid), 404)
