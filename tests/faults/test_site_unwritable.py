"""The site folder becomes unwritable while a job streams, so its publish fails.

The tests run as root, for whom permission bits mean nothing; the immutable attribute
(``chattr +i``) stops root too: nothing can be created, renamed or removed in the folder.

Expected outcome: the job fails with an error naming the publish, every file of the site is
byte for byte as it was (no temp file, no half post folder), nginx serves the same pages, the
agent stays ready, and once the folder is writable again the next job works.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.checks import (
    assert_healthy,
    assert_next_job_works,
    assert_site_intact,
    assert_user_error,
    job_seconds,
    topic,
    wait_provider_request,
)
from tests.faults.conftest import JOB_TIMEOUT_S, Provider
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow


@contextmanager
def immutable(folder: Path) -> Iterator[None]:
    subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_unwritable_site_fails_the_job_and_keeps_the_site(
    fresh: LocalPod, provider: Provider
) -> None:
    assert_next_job_works(fresh)  # the site has a post, an index and a feed to protect
    site = fresh.layout.site
    before = fresh.site_snapshot()
    index_before = fresh.http.get("/").text

    provider.control.set_pace(first_token_ms=100, tokens_per_s=20, tokens=60)
    name = topic("site-unwritable")
    job_id = fresh.write(name)["id"]
    wait_provider_request(provider.control, name)
    with immutable(site):
        probe = site / "probe-root-cannot-write"
        with pytest.raises(PermissionError):
            probe.write_text("x")  # the folder really is unwritable, even for root

        job = fresh.wait_job(job_id, timeout=JOB_TIMEOUT_S)
        assert job["status"] == "failed", job
        assert job_seconds(job) < JOB_TIMEOUT_S
        assert_user_error(job, "publish", "site", "write", "permitted", "permission")
        assert job["post"] is None
        assert fresh.site_snapshot() == before, "the failed publish changed the site"
        assert_site_intact(fresh)
        assert fresh.http.get("/").text == index_before
        assert_healthy(fresh)

    provider.reset()
    done = assert_next_job_works(fresh)
    assert done["post"]["slug"] in {p["slug"] for p in fresh.http.get("/api/v1/posts").json()}
    assert_site_intact(fresh)
