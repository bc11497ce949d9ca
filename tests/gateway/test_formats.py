"""An upload of every supported format reaches ready; its type is the sniffed one."""
import pytest

from conftest import delete_own, get, upload_ok, wait_status

TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
         "tif": "image/tiff", "avif": "image/avif", "heic": "image/heic"}


@pytest.mark.parametrize("ext", sorted(TYPES))
def test_format(images, ext):
    assert ext in images, "could not make a %s fixture" % ext
    # A misleading name: the type comes from the bytes.
    body = upload_ok(images[ext], "picture.txt", ops="thumbnail")
    done = wait_status(body["id"])
    assert done["status"] == "ready", done
    assert done["content_type"] == TYPES[ext]
    r = get("/image/%s" % body["id"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/")
    assert delete_own(body).status_code == 204
