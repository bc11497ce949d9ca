"""A receiver slower than IP_WEBHOOK_TIMEOUT_MS: the first two attempts are
cut at the timeout and recorded as such (no status, an error that says
timeout, a duration near the timeout); the next one, answered at once,
delivers. (Two slow answers, so the log is seen between attempts: the
backoff after the first is only IP_WEBHOOK_RETRY_BASE_MS.)"""
from conftest import ATTEMPT_S, TIMEOUT_S, gw, subscribe, upload_ready, wait_delivery


def test_timeout_then_delivered(receiver):
    receiver.script = [("hang", TIMEOUT_S + 3), ("hang", TIMEOUT_S + 3)]
    key = gw.make_key("read,upload")
    sub = subscribe(key, receiver.url(), events=["image.ready"])
    image_id = upload_ready(key)
    timed_out = wait_delivery(key, sub["id"], image_id, "image.ready",
                              lambda d: d["attempts"] >= 1 and d["last_error"],
                              "the first attempt recorded as failed", deadline_s=10 * ATTEMPT_S)
    assert timed_out["last_status"] is None, timed_out
    assert "timeout" in timed_out["last_error"].lower() or "timed out" in timed_out["last_error"].lower(), \
        timed_out
    assert timed_out["last_duration_ms"] >= TIMEOUT_S * 1000 * 0.9, timed_out
    d = wait_delivery(key, sub["id"], image_id, "image.ready", lambda d: d["state"] == "delivered",
                      "delivered by the quick attempt", deadline_s=10 * ATTEMPT_S)
    assert d["attempts"] >= 3 and d["last_status"] == 204, d
    got = receiver.received(image_id=image_id)
    assert [g["action"][0] for g in got[:2]] == ["hang", "hang"] and got[-1]["action"] == "ok"
    assert got[1]["at"] - got[0]["at"] >= TIMEOUT_S * 0.9, "the second attempt after the timeout"
