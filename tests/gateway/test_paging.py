"""Paging through many uploads (1,000 by default: IP_GW_E2E_PAGING_N) with and
without mode while new uploads keep arriving: every image of the set appears
exactly once, in (created_at, id) descending order, and mode filters."""
import concurrent.futures
import os
import threading

from conftest import admin_secret, delete, get, upload


N = int(os.environ.get("IP_GW_E2E_PAGING_N", "1000"))


def _upload_many(png, n, ops, workers=4):
    def one(_):
        r = upload(png, "p.png", ops=ops)
        assert r.status_code == 202, r.text
        return r.json()
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(one, range(n)))


def _walk(mode=None, limit=100, stop_after=None):
    items, q = [], {"limit": str(limit)}
    if mode:
        q["mode"] = mode
    while True:
        r = get("/images", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if not page["next"] or (stop_after and stop_after(items)):
            return items
        q["last_created_at"] = page["next"]["last_created_at"]
        q["last_id"] = page["next"]["last_id"]


def _check_order(items):
    keys = [(i["created_at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True), "not in (created_at, id) descending order"
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "an image was repeated"


def test_paging_while_uploading(png):
    mine = _upload_many(png, N, "thumbnail")
    mine_ids = {m["id"] for m in mine}
    oldest = min(m["created_at"] for m in mine)
    stop = threading.Event()
    arrived = []

    def keep_uploading():
        while not stop.is_set():
            r = upload(png, "new.png", ops="thumbnail")
            if r.status_code == 202:
                arrived.append(r.json()["id"])

    t = threading.Thread(target=keep_uploading, daemon=True)
    t.start()
    try:
        past = lambda items: items[-1]["created_at"] < oldest
        for mode, limit in ((None, 100), ("thumbnail", 37), (None, 1)):
            if limit == 1:
                # limit=1 through the whole set would be 1,000 requests: walk 50.
                items = _walk(mode, limit, stop_after=lambda it: len(it) >= 50)
                _check_order(items)
                continue
            items = _walk(mode, limit, stop_after=past)
            _check_order(items)
            seen = [i["id"] for i in items if i["id"] in mine_ids]
            assert len(seen) == len(mine_ids), "%d of %d seen (mode %s)" % (len(set(seen)), N, mode)
            for i in items:
                if mode:
                    assert "thumbnail" in i["ops"]
        items = _walk("watermarked", 100, stop_after=past)
        _check_order(items)
        assert not [i for i in items if i["id"] in mine_ids], "mode=watermarked returned thumbnail-only images"
    finally:
        stop.set()
        t.join(30)
    assert arrived, "no uploads arrived during the walk"
    admin = admin_secret()
    for iid in list(mine_ids) + arrived:
        delete(iid, admin, timeout=30)
