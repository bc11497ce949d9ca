"""Fixtures of the hostile-input tests: small valid images, and a check that
the API answers before each test. The corpus is corpus.py's, the helpers are
in hostile.py."""
import pytest

import hostile


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Small valid JPEG and PNG files (libvips, via the gateway tests' tool)."""
    d = tmp_path_factory.mktemp("hostile-img")
    return {ext: hostile.gw.vips_make(str(d / ("v." + ext))) for ext in ("jpg", "png")}


@pytest.fixture(scope="session")
def png(images):
    return images["png"]


@pytest.fixture(autouse=True)
def api_answers():
    """The API answers before each test (a failing earlier test must not make
    this one measure a stack that is still starting)."""
    hostile.gw.gateway_alive()
