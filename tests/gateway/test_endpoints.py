"""Every endpoint and its statuses, through nginx. Deletes and originals send
the upload's owner token; /metrics and /readyz's details through nginx the
admin key (who may do what is test_access.py's)."""
import json
import time

from conftest import (API, UPLOAD_MAX, bearer, delete, delete_own, env, get, info, new_id, problem,
                      session, upload, upload_ok, vips_make, wait_status)


def test_healthz_readyz_metrics_openapi(admin_key):
    r = get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}, r.text
    r = get("/readyz", headers=bearer(admin_key))
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"metadata": "ok", "storage": "ok", "kafka": "ok"}
    r = get("/metrics", headers=bearer(admin_key))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    for name in ("gw_http_requests_total", "gw_http_request_duration_seconds_bucket",
                 "gw_uploads_total", "gw_sse_clients"):
        assert name in r.text, name
    r = get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    for p in ("/upload", "/image/{id}", "/image/{id}/info", "/image/{id}/retry", "/images", "/events",
              "/healthz", "/readyz", "/metrics", "/openapi.json", "/config"):
        assert p in doc["paths"], p
    schemes = doc["components"]["securitySchemes"]
    assert {schemes[s]["scheme"] for s in ("ownerToken", "apiKey")} == {"bearer"}
    assert {"ownerToken": []} in doc["paths"]["/image/{id}"]["delete"]["security"]
    assert {} not in doc["paths"]["/image/{id}"]["delete"]["security"]
    assert "owner_token" in json.dumps(doc["components"]["schemas"])


def test_config_is_what_the_gateway_runs_with():
    """GET /config: the variants in canonical order with titles, the default ops,
    and the limits the gateway was started with (the IP_* environment)."""
    r = get("/config")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "max-age=" in r.headers["Cache-Control"] and "no-store" not in r.headers["Cache-Control"]
    body = r.json()
    assert body == {
        "variants": [{"name": "thumbnail", "title": "Thumbnail"},
                     {"name": "resized", "title": "Resized"},
                     {"name": "watermarked", "title": "Watermarked"}],
        "default_ops": ["thumbnail", "resized", "watermarked"],
        "upload_max_bytes": UPLOAD_MAX,
        "pixel_limit": int(env("IP_PIXEL_LIMIT", "100000000")),
    }, body
    # The default ops are what an upload without ops gets.
    assert set(body["default_ops"]) == {v["name"] for v in body["variants"]}


def test_unknown_path_and_methods():
    problem(get("/nope"), 404)
    problem(get("/image/"), 404)
    problem(get("/image/%s/other" % new_id()), 404)
    for method, path, allow in (("PUT", "/images", "GET, HEAD"), ("DELETE", "/healthz", "GET, HEAD"),
                                ("GET", "/upload", "POST"), ("PATCH", "/image/%s" % new_id(), "GET, HEAD, DELETE"),
                                ("POST", "/image/%s/info" % new_id(), "GET, HEAD")):
        r = session.request(method, API + path, timeout=10)
        problem(r, 405)
        assert r.headers["Allow"] == allow


def test_bad_ids_and_params():
    for path in ("/image/not-a-uuid", "/image/not-a-uuid/info", "/image/%20"):
        assert problem(get(path), 400)["param"] == "id"
    r = session.delete(API + "/image/123", timeout=10)
    assert problem(r, 400)["param"] == "id"
    assert problem(get("/image/%s?variant=huge" % new_id()), 400)["param"] == "variant"
    for q, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                     ("mode=small", "mode"), ("last_id=%s" % new_id(), "last_created_at"),
                     ("last_created_at=2026-01-01T00:00:00Z", "last_id"),
                     ("last_created_at=noon&last_id=%s" % new_id(), "last_created_at"),
                     ("last_created_at=2026-01-01T00:00:00Z&last_id=zz", "last_id")):
        assert problem(get("/images?" + q), 400)["param"] == param, q
    assert problem(get("/events?id=nope"), 400)["param"] == "id"


def test_unknown_ids_404(admin_key):
    i = new_id()
    problem(get("/image/%s" % i), 404)
    problem(info(i), 404)
    problem(delete(i, admin_key), 404)


def test_upload_read_lifecycle(png):
    r = upload(png, "pic.png", ops="thumbnail,resized")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["ops"] == ["thumbnail", "resized"]
    assert body["links"]["info"] == "/api/image/%s/info" % body["id"]
    assert r.headers["Location"] == body["links"]["info"]
    iid = body["id"]
    owner = bearer(body["owner_token"])
    # Right after the upload: pending/processing answers 202 with Retry-After
    # (unless the processor was faster than this request).
    r = get("/image/%s" % iid)
    assert r.status_code in (200, 202)
    if r.status_code == 202:
        assert r.headers["Retry-After"] and r.json()["id"] == iid
    done = wait_status(iid)
    assert done["status"] == "ready", done
    assert done["filename"] == "pic.png" and done["content_type"] == "image/png"
    assert done["width"] == 64 and done["height"] == 48 and done["size"] == len(png)
    assert set(done["variants"]) == {"thumbnail", "resized"}
    for name, v in done["variants"].items():
        assert v["status"] == "ready" and v["url"].startswith("/media/%s/%s." % (iid, name))
        assert v["width"] > 0 and v["size"] > 0 and v["format"] in ("jpeg", "png", "webp")
    # Default variant: resized (watermarked was not requested).
    r = get("/image/%s" % iid)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("image/")
    etag = r.headers["ETag"]
    media = session.get(API.replace("/api", "") + done["variants"]["resized"]["url"], timeout=10)
    assert media.status_code == 200 and media.content == r.content
    r2 = get("/image/%s" % iid, headers={"If-None-Match": etag})
    assert r2.status_code == 304
    r = get("/image/%s?variant=thumbnail" % iid)
    assert r.status_code == 200 and len(r.content) == done["variants"]["thumbnail"]["size"]
    r = get("/image/%s?variant=original" % iid, headers=owner)
    assert r.status_code == 200 and r.content == png and r.headers["Content-Type"] == "image/png"
    problem(get("/image/%s?variant=watermarked" % iid), 404)
    r = session.head(API + "/image/%s/info" % iid, timeout=10)
    assert r.status_code == 200
    # Listing shows it with the thumbnail url.
    r = get("/images?limit=100")
    assert r.status_code == 200
    item = [x for x in r.json()["items"] if x["id"] == iid]
    assert item and item[0]["url"] == done["variants"]["thumbnail"]["url"]
    assert delete_own(body).status_code == 204


def test_raw_body_upload_and_ops_query(images):
    r = session.post(API + "/upload?ops=thumbnail", data=images["jpg"],
                     headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert r.status_code == 202, r.text
    assert r.json()["ops"] == ["thumbnail"]
    done = wait_status(r.json()["id"])
    assert done["status"] == "ready" and done["content_type"] == "image/jpeg"
    assert delete_own(r.json()).status_code == 204


def test_failed_image_422(tmp_path):
    # A PNG whose header is fine but whose pixel data is corrupt: accepted
    # (the header reads), then failed by the processor.
    data = bytearray(vips_make(str(tmp_path / "big.png"), 300, 300))
    idat = data.find(b"IDAT")
    for i in range(idat + 8, min(idat + 400, len(data) - 20)):
        data[i] ^= 0x5A
    r = upload(bytes(data), "broken.png")
    assert r.status_code == 202, r.text
    done = wait_status(r.json()["id"])
    assert done["status"] == "failed" and done["error"], done
    body = problem(get("/image/%s" % done["id"]), 422)
    assert body["detail"]
    assert delete_own(r.json()).status_code == 204


def test_accel_behind_proxy_and_bytes_direct(png):
    """Through a proxy (X-Forwarded-* set) a ready variant is handed to nginx by
    X-Accel-Redirect to the public key; asked directly, the gateway streams the
    bytes itself; the original is never handed to nginx."""
    from conftest import env
    direct = "http://%s" % env("IP_GATEWAY_LISTEN", "127.0.0.1:8081")
    body = upload_ok(png, "accel.png", ops="thumbnail")
    done = wait_status(body["id"])
    iid = body["id"]
    r = session.get(direct + "/image/%s" % iid, headers={"X-Forwarded-Prefix": "/api"}, timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["X-Accel-Redirect"].startswith("/_accel/v/%s/thumbnail." % iid)
    assert r.headers["Content-Type"].startswith("image/") and r.headers["ETag"]
    r = session.get(direct + "/image/%s" % iid, timeout=10)
    assert r.status_code == 200 and "X-Accel-Redirect" not in r.headers
    assert len(r.content) == done["variants"]["thumbnail"]["size"]
    r = session.get(direct + "/image/%s?variant=original" % iid,
                    headers={"X-Forwarded-For": "1.2.3.4", **bearer(body["owner_token"])}, timeout=10)
    assert r.status_code == 200 and r.content == png and "X-Accel-Redirect" not in r.headers
    assert delete_own(body).status_code == 204
