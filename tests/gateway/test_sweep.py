"""The sweep: an upload whose job never reached Kafka (a gateway that died
between CreateImage and the produce) is re-enqueued from ListStale and gets
processed. The stuck upload is made with imgctl: the original via storage-svc
and a pending, never-enqueued row created a minute in the past. And the row an
undone upload leaves when its undo could not reach metadata-svc (pending,
never enqueued, its original already removed) is removed by the sweep instead
of being processed into a failed image."""
import base64
import json
import time
import uuid

from conftest import delete, imgctl, info, objects_of, psql, row_exists, wait_status


def uuid7(ms):
    r = uuid.uuid4().int
    v = (ms << 80) | (0x7 << 76) | ((r >> 64) & ((1 << 12) - 1)) << 64 | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))


def stuck_upload(png, filename, with_original=True):
    """What a gateway that died between CreateImage and the produce leaves: a
    pending, never-enqueued row created a minute ago (past the sweep's age),
    with its original stored unless `with_original` is false. Returns its id."""
    created_ms = int(time.time() * 1000) - 60000
    iid = uuid7(created_ms)
    key = "o/" + iid
    if with_original:
        imgctl("storage", "PutObject", "-", stdin=json.dumps(
            {"key": key, "data": base64.b64encode(png).decode(), "content_type": "image/png"}))
    imgctl("metadata", "CreateImage", "-", stdin=json.dumps({"image": {
        "id": iid, "created_at_us": created_ms * 1000, "filename": filename,
        "content_type": "image/png", "size_bytes": len(png), "width": 64, "height": 48,
        "sha256": "0" * 64, "requested": ["VARIANT_THUMBNAIL"], "original_key": key}}))
    return iid


def test_stale_upload_is_reenqueued(png, admin_key):
    iid = stuck_upload(png, "stale.png")
    # The sweep runs every IP_GATEWAY_SWEEP_INTERVAL_MS (10 s by default).
    done = wait_status(iid, deadline_s=90)
    assert done["status"] == "ready", done
    # Made without an owner (as before owners existed): only a key deletes it.
    assert delete(iid, admin_key).status_code == 204


def test_stale_row_without_original_is_removed(png):
    iid = stuck_upload(png, "undone.png", with_original=False)
    assert row_exists(iid)
    # The sweep runs every IP_GATEWAY_SWEEP_INTERVAL_MS (10 s by default).
    def purge_pending():
        return psql("select count(*) from purges where image_id = '%s'" % iid) != "0"

    deadline = time.monotonic() + 90
    while (row_exists(iid) or purge_pending()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not row_exists(iid), "the sweep left the row without its original"
    assert not purge_pending(), "the removed row's purge was not finished"
    assert info(iid).status_code == 404
    assert objects_of(iid) == []
