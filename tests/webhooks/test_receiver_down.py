"""The receiver is down for a while: a subscription points at a closed
port; an image turns ready and is then deleted (image.ready, then
image.deleted, for one image). The log shows the attempts failing (at least
two: retried with backoff); once a receiver starts on that port both
deliveries arrive, image.ready before image.deleted (in order per image),
and the log says delivered."""
import json

from conftest import ATTEMPT_S, Receiver, free_port, gw, subscribe, upload_ready, wait_delivery


def test_deliveries_arrive_in_order_after_the_receiver_returns():
    key = gw.make_key("read,upload,delete")
    port = free_port()
    late = Receiver(port)
    sub = subscribe(key, late.url())
    try:
        image_id = upload_ready(key)
        r = gw.delete(image_id, key["key"])
        assert r.status_code in (202, 204), r.text
        failing = wait_delivery(key, sub["id"], image_id, "image.ready",
                                lambda d: d["attempts"] >= 2, "two failed attempts of image.ready",
                                deadline_s=20 * ATTEMPT_S)
        assert failing["state"] == "pending" and failing["last_status"] is None, failing
        assert failing["last_error"], "a connection error says what went wrong"
        assert failing["next_attempt_at"] is not None
        # image.deleted waits behind image.ready: not a single attempt yet.
        deleted = wait_delivery(key, sub["id"], image_id, "image.deleted", lambda d: True,
                                "image.deleted is in the log")
        assert deleted["state"] == "pending" and deleted["attempts"] == 0, deleted

        late.start()
        got = late.wait(2, deadline_s=10 * ATTEMPT_S, image_id=image_id)
        types = [json.loads(g["body"])["type"] for g in got]
        assert types == ["image.ready", "image.deleted"], types
        deleted_body = json.loads(got[1]["body"])
        assert deleted_body["data"]["status"] == "deleted" and deleted_body["data"]["id"] == image_id
        log = {}
        for event in ("image.ready", "image.deleted"):
            log[event] = wait_delivery(key, sub["id"], image_id, event,
                                       lambda d: d["state"] == "delivered", "%s delivered" % event)
            assert log[event]["last_status"] == 204 and log[event]["last_error"] == ""
        assert log["image.ready"]["attempts"] >= 3, "failed at least twice, then delivered"
        assert log["image.deleted"]["attempts"] >= 1
    finally:
        late.stop()
