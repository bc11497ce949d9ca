"""Duplicate uploads (issue 18), through nginx.

An upload with an API key whose bytes an image of that key already has is
answered with that image: 200 {id, status, created_at, ops, links, duplicate:
true} and its Location, no owner token, nothing stored — unless
on_duplicate=new (query or form field; the form wins). Another key, or no key
at all, gets a new image. GET /images?sha256= lists the images of those
bytes; every info and listing item carries sha256.
"""
import hashlib

from conftest import (API, bearer, delete, get, info, make_key, problem, psql, revoke_key,
                      session, upload)
from test_idempotency import listed, png_unique, rows_with, sha


def up(data, auth=None, query="", form=None):
    h = bearer(auth) if auth else {}
    fields = {"file": ("dup.png", data, "image/png")}
    return session.post(API + "/upload" + query, files=fields, data=form, headers=h, timeout=60)


def test_duplicates():
    a, b = make_key("upload"), make_key("upload")
    made = []
    try:
        x = png_unique()
        first = up(x, a["key"], "?ops=thumbnail,resized")
        assert first.status_code == 202, first.text
        made.append(first.json())
        rows_before = rows_with(x)

        dup = up(x, a["key"])
        assert dup.status_code == 200, dup.text
        body = dup.json()
        assert body["duplicate"] is True and body["id"] == first.json()["id"], body
        assert "owner_token" not in body
        assert body["ops"] == ["thumbnail", "resized"] and body["created_at"] == first.json()["created_at"]
        assert body["status"] in ("pending", "processing", "ready"), body
        assert body["links"] == first.json()["links"]
        assert dup.headers["Location"] == first.headers["Location"]
        assert rows_with(x) == rows_before == 1

        # on_duplicate=new: a new image, from the query or the form.
        new_q = up(x, a["key"], "?on_duplicate=new")
        assert new_q.status_code == 202, new_q.text
        made.append(new_q.json())
        new_f = up(x, a["key"], form={"on_duplicate": "new"})
        assert new_f.status_code == 202, new_f.text
        made.append(new_f.json())
        # The form field wins over the query.
        won = up(x, a["key"], "?on_duplicate=new", form={"on_duplicate": "existing"})
        assert won.status_code == 200 and won.json()["duplicate"] is True, won.text
        assert won.json()["id"] in {m["id"] for m in made}

        # Another key: a new image, then its own duplicate.
        rb = up(x, b["key"])
        assert rb.status_code == 202, rb.text
        made.append(rb.json())
        rb2 = up(x, b["key"])
        assert rb2.status_code == 200 and rb2.json()["id"] == rb.json()["id"]

        # Anonymous uploads are never deduplicated.
        anon = []
        for _ in range(2):
            ra = up(x, query="?ops=thumbnail")
            assert ra.status_code == 202, ra.text
            made.append(ra.json())
            anon.append(ra.json()["id"])
        ids = [m["id"] for m in made]
        assert len(set(ids)) == len(ids) == 6

        # The listing by checksum: exactly these, newest first, in either case.
        assert sorted(listed(x)) == sorted(ids)
        r = get("/images?limit=100&sha256=%s" % sha(x).upper())
        assert r.status_code == 200 and sorted(i["id"] for i in r.json()["items"]) == sorted(ids)
        page = get("/images?limit=2&sha256=%s" % sha(x)).json()
        assert len(page["items"]) == 2 and page["next"], page
        rest = get("/images?limit=100&sha256=%s&last_created_at=%s&last_id=%s" % (
            sha(x), page["next"]["last_created_at"], page["next"]["last_id"])).json()
        assert [i["id"] for i in page["items"] + rest["items"]] == listed(x)
        with_resized = get("/images?limit=100&sha256=%s&mode=resized" % sha(x)).json()["items"]
        assert sorted(i["id"] for i in with_resized) == sorted(set(ids) - set(anon))
        assert info(made[0]["id"]).json()["sha256"] == sha(x)
        assert listed(png_unique()) == []
    finally:
        for m in made:
            delete(m["id"], m["owner_token"])
        revoke_key(a["id"])
        revoke_key(b["id"])


def test_duplicate_of_deleted_image_is_new():
    a = make_key("upload,delete")
    try:
        x = png_unique()
        first = up(x, a["key"])
        assert first.status_code == 202, first.text
        assert delete(first.json()["id"], a["key"]).status_code in (202, 204)
        again = up(x, a["key"])
        assert again.status_code == 202, again.text
        assert again.json()["id"] != first.json()["id"]
        delete(again.json()["id"], a["key"])
    finally:
        revoke_key(a["id"])


def test_bad_values_are_400():
    a = make_key("upload")
    try:
        x = png_unique()
        for q in ("?on_duplicate=replace", "?on_duplicate=", "?on_duplicate=new&on_duplicate=new"):
            p = problem(up(x, a["key"], q), 400)
            assert p.get("param") == "on_duplicate", (q, p)
        p = problem(up(x, a["key"], form={"on_duplicate": "Existing"}), 400)
        assert p.get("param") == "on_duplicate", p
        assert rows_with(x) == 0
        for bad in ("abc", "0" * 63, "0" * 65, "g" * 64, ""):
            p = problem(get("/images?sha256=%s" % bad), 400)
            assert p.get("param") == "sha256", (bad, p)
    finally:
        revoke_key(a["id"])
