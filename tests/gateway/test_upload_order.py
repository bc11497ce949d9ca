"""The upload's order: the 202 promises the original stored, the row committed
and the job acknowledged by Kafka; MarkEnqueued comes after the answer. Every
accepted upload still gets its row's enqueued_at recorded, the stored
original's digest matches the bytes sent, and the image is processed; and an
upload whose MarkEnqueued never ran (the gateway died right after answering)
is not processed again once it is ready."""
import hashlib
import json
import time

from conftest import delete, delete_own, imgctl, psql, upload_ok, wait_status
from test_sweep import stuck_upload


def enqueued_at(image_id):
    return psql("select coalesce(extract(epoch from enqueued_at)::text, '') from images"
                " where id = '%s'" % image_id)


def test_accepted_upload_is_stored_committed_and_marked(png):
    body = upload_ok(png, "order.png", ops="thumbnail")
    iid = body["id"]
    # What the 202 promises holds when it arrives.
    head = imgctl("storage", "HeadObject", json.dumps({"key": "o/" + iid}))
    assert int(head["info"]["size_bytes"]) == len(png), head
    sha = psql("select sha256 from images where id = '%s'" % iid)
    assert sha == hashlib.sha256(png).hexdigest(), sha
    # MarkEnqueued runs right after the answer: the row gets its time.
    end = time.monotonic() + 30
    while time.monotonic() < end and enqueued_at(iid) == "":
        time.sleep(0.05)
    assert enqueued_at(iid) != "", "MarkEnqueued never recorded the job"
    done = wait_status(iid)
    assert done["status"] == "ready", done
    assert delete_own(body).status_code in (202, 204)


def test_ready_image_never_marked_is_left_alone_by_the_sweep(png, admin_key):
    """A gateway that dies after the 202 and before MarkEnqueued leaves the
    row's enqueued_at unset. Once the image is processed, the sweep must not
    take it again; a stuck pending upload next to it (the sentinel, as in
    test_sweep) shows that a sweep pass ran meanwhile."""
    body = upload_ok(png, "unmarked.png", ops="thumbnail")
    iid = body["id"]
    assert wait_status(iid)["status"] == "ready"
    # The state a crash right after the answer leaves, aged past the sweep's age.
    psql("update images set enqueued_at = NULL, created_at = created_at - interval '1 hour'"
         " where id = '%s'" % iid)
    before = psql("select runs, updated_at from images where id = '%s'" % iid)

    sentinel = stuck_upload(png, "sentinel.png")
    assert wait_status(sentinel, deadline_s=90)["status"] == "ready"

    after = psql("select runs, updated_at from images where id = '%s'" % iid)
    assert after == before, (before, after)
    assert enqueued_at(iid) == ""
    assert psql("select swept_until is null from images where id = '%s'" % iid) == "t"
    assert wait_status(iid)["status"] == "ready"
    assert delete_own(body).status_code in (202, 204)
    assert delete(sentinel, admin_key).status_code in (202, 204)
