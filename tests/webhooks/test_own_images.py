"""A subscription limited to its key's own images ("images": "own"): uploads
by another key and anonymous uploads give it no delivery; an upload by its
key does. A control subscription to every image ("all", another key with
read scope) on the same receiver says when the others' deliveries would have
arrived, instead of a fixed wait: they are written in the same transaction
as the control's, and handed out oldest first, so they would come before the
own key's later one."""
from conftest import ATTEMPT_S, gw, subscribe, upload_ready


def test_own_only(receiver):
    key_a = gw.make_key("upload")
    key_b = gw.make_key("upload")
    control_key = gw.make_key("read")
    own = subscribe(key_a, receiver.url("/own"), images="own", events=["image.ready"])
    assert own["images"] == "own"
    subscribe(control_key, receiver.url("/all"), images="all", events=["image.ready"])

    other_ids = [upload_ready(key_b), upload_ready(None)]
    for i in other_ids:
        receiver.wait(1, deadline_s=10 * ATTEMPT_S, path="/all", image_id=i)
    mine = upload_ready(key_a)
    receiver.wait(1, deadline_s=10 * ATTEMPT_S, path="/all", image_id=mine)
    got = receiver.wait(1, deadline_s=10 * ATTEMPT_S, path="/own", image_id=mine)
    assert len(got) == 1
    for i in other_ids:
        assert not receiver.received(path="/own", image_id=i), "another key's image reached 'own'"
    assert len(receiver.received(path="/own")) == 1
