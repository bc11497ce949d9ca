"""DELETE: 204, then 404 everywhere; a delete in the middle of processing
leaves nothing in the bucket once processing ends; /media/ URLs of a deleted
image answer 404."""
import time

from conftest import (API, get, info, objects_of, problem, row_exists, session, upload_ok,
                      vips_make, wait_status)


def test_delete_ready_image(png):
    body = upload_ok(png, "d.png")
    done = wait_status(body["id"])
    urls = [v["url"] for v in done["variants"].values() if v["url"]]
    assert urls
    base = API.replace("/api", "")
    for u in urls:
        assert session.get(base + u, timeout=10).status_code == 200
    r = session.delete(API + "/image/%s" % body["id"], timeout=10)
    assert r.status_code == 204 and r.content == b""
    problem(get("/image/%s" % body["id"]), 404)
    problem(info(body["id"]), 404)
    problem(session.delete(API + "/image/%s" % body["id"], timeout=10), 404)
    for u in urls:
        assert session.get(base + u, timeout=10).status_code == 404, u
    assert not row_exists(body["id"])
    assert objects_of(body["id"]) == []


def test_delete_during_processing(tmp_path):
    # Big enough that processing takes a while.
    big = vips_make(str(tmp_path / "big.jpg"), 3000, 2000)
    body = upload_ok(big, "big.jpg")
    iid = body["id"]
    r = session.delete(API + "/image/%s" % iid, timeout=10)
    assert r.status_code == 204
    problem(get("/image/%s" % iid), 404)
    problem(info(iid), 404)
    # A later upload reaching ready means the processor has moved past the
    # deleted one's job (same processors, jobs taken in order per partition;
    # wait for several to cover the other partitions).
    small = vips_make(str(tmp_path / "s.png"), 32, 32)
    later = [upload_ok(small, "later.png", ops="thumbnail")["id"] for _ in range(6)]
    for l in later:
        wait_status(l, deadline_s=120)
    # A processor still finishing the deleted job may write a variant and then
    # remove it when PutVariant answers NOT_FOUND: wait for the bucket to settle.
    end = time.monotonic() + 60
    while objects_of(iid):
        assert time.monotonic() < end, "objects left after the delete: %s" % objects_of(iid)
        time.sleep(0.5)
    assert not row_exists(iid)
    problem(get("/image/%s" % iid), 404)
    for l in later:
        session.delete(API + "/image/%s" % l, timeout=10)
