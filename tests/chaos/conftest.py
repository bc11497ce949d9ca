"""Fixtures of the chaos tests: the generated images, and a stack that is all
up before each test and all up again, with the configured (single) instance
counts, after it — whatever happened in between."""
import pytest

import chaos


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    return chaos.make_images(tmp_path_factory.mktemp("chaos"))


@pytest.fixture(autouse=True)
def stack_restored():
    """Yields a dict; a test that ran other instance counts sets
    changed_counts so that the restore restarts the services."""
    chaos.resume_processors()
    chaos.stack("start")
    chaos.wait_api_ready()
    state = {"changed_counts": False}
    yield state
    chaos.restore(changed_counts=state["changed_counts"])
