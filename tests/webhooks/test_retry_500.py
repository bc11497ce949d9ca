"""A receiver that answers 500 a few times, then 204: the delivery is
retried with backoff; while it fails the log shows the 500 (last_status and
a last_error that says so), and it ends delivered after at least three
attempts, each request carrying the same webhook-id and body."""
from conftest import ATTEMPT_S, gw, subscribe, upload_ready, wait_delivery


def test_500_then_ok(receiver):
    receiver.script = [500, 500, 500]
    key = gw.make_key("read,upload")
    sub = subscribe(key, receiver.url(), events=["image.ready"])
    image_id = upload_ready(key)
    failing = wait_delivery(key, sub["id"], image_id, "image.ready",
                            lambda d: d["state"] == "pending" and d["last_status"] == 500,
                            "a failed attempt in the log", deadline_s=10 * ATTEMPT_S)
    assert "500" in failing["last_error"], failing
    assert failing["next_attempt_at"] is not None
    d = wait_delivery(key, sub["id"], image_id, "image.ready", lambda d: d["state"] == "delivered",
                      "delivered after the 500s", deadline_s=10 * ATTEMPT_S)
    assert d["attempts"] >= 3 and d["last_status"] == 204 and d["last_error"] == "", d
    got = receiver.received(image_id=image_id)
    assert len(got) == d["attempts"] == 4, "three 500s, then the 204"
    assert len({g["headers"]["webhook-id"] for g in got}) == 1
    assert len({g["body"] for g in got}) == 1, "every attempt sends the same bytes"
    assert [g["action"] for g in got] == [500, 500, 500, "ok"]
    gaps = [b["at"] - a["at"] for a, b in zip(got, got[1:])]
    assert all(g > 0.05 for g in gaps), "retried after a backoff, not at once: %s" % gaps
