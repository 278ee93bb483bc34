"""A failed write raises PublishError and leaves the site byte for byte as it was.

Tests may run as root, which ignores permission bits, so the faults here are ones that
fail for root too: a path that should be a file is a folder (or the reverse), and, in unit
tests, os.replace / os.fsync patched to fail at each step of the swap.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blogpod.site import PublishError, SitePublisher
from tests.site.conftest import make_meta, snapshot


def seeded(site_dir: Path) -> SitePublisher:
    publisher = SitePublisher(site_dir)
    publisher.publish("# First\n\none", make_meta(0))
    publisher.publish("# Second\n\ntwo", make_meta(1))
    return publisher


def test_feed_path_is_a_folder_publish_fails_cleanly(site_dir: Path) -> None:
    publisher = seeded(site_dir)
    (site_dir / "feed.xml").unlink()
    (site_dir / "feed.xml").mkdir()
    (site_dir / "feed.xml" / "x").write_text("blocker")
    before = snapshot(site_dir)
    with pytest.raises(PublishError, match=r"feed\.xml"):
        publisher.publish("# Third\n\nthree", make_meta(2))
    assert snapshot(site_dir) == before
    assert [p.slug for p in publisher.list_posts()] == ["second", "first"]


def test_feed_path_is_a_folder_unpublish_fails_cleanly(site_dir: Path) -> None:
    publisher = seeded(site_dir)
    (site_dir / "feed.xml").unlink()
    (site_dir / "feed.xml").mkdir()
    (site_dir / "feed.xml" / "x").write_text("blocker")
    before = snapshot(site_dir)
    with pytest.raises(PublishError, match="unpublish"):
        publisher.unpublish("first")
    assert snapshot(site_dir) == before
    assert publisher.get_post("first").summary == "one"


def test_posts_path_is_a_file_publish_fails_cleanly(site_dir: Path) -> None:
    site_dir.mkdir()
    (site_dir / "posts").write_text("not a folder")
    before = snapshot(site_dir)
    with pytest.raises(PublishError, match="posts"):
        SitePublisher(site_dir).publish("# Any\n\nx", make_meta())
    assert snapshot(site_dir) == before


def test_site_dir_is_a_file_publish_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.write_text("not a folder")
    with pytest.raises(PublishError):
        SitePublisher(blocker).publish("# Any\n\nx", make_meta())
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str, action: Callable[[], Any]) -> int:
    real = getattr(os, name)
    calls = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, name, counting)
        action()
    return calls


def _fail_at(monkeypatch: pytest.MonkeyPatch, name: str, failing_call: int, err: int) -> None:
    real = getattr(os, name)
    calls = 0

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == failing_call:
            raise OSError(err, os.strerror(err), str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, flaky)


OPERATIONS: dict[str, Callable[[SitePublisher], object]] = {
    "publish": lambda p: p.publish("# Third\n\nthree", make_meta(2)),
    "publish-duplicate": lambda p: p.publish("# First\n\nagain", make_meta(3)),
    "unpublish": lambda p: p.unpublish("first"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(("call", "err"), [("replace", errno.EROFS), ("fsync", errno.ENOSPC)])
def test_every_failing_step_leaves_the_site_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str, call: str, err: int
) -> None:
    """Fail the 1st, 2nd, ... os.replace/os.fsync of the operation, one run each."""
    run = OPERATIONS[operation]
    probe = seeded(tmp_path / "probe")
    total = _count_calls(monkeypatch, call, lambda: run(probe))
    assert total >= 5  # post folder / trash, css, feed, index, manifest at least
    for failing in range(1, total + 1):
        site_dir = tmp_path / f"site-{failing}"
        publisher = seeded(site_dir)
        before = snapshot(site_dir)
        with monkeypatch.context() as patch:
            _fail_at(patch, call, failing, err)
            try:
                run(publisher)
            except PublishError as exc:
                assert os.strerror(err) in str(exc)
                assert snapshot(site_dir) == before, f"changed after failing {call} #{failing}"
                continue
        # Some fsyncs are best-effort (folder fsync after the swap): success is fine then,
        # as long as the operation really happened in full.
        assert call == "fsync"
        assert snapshot(site_dir) != before
        assert not list(site_dir.rglob(".tmp-*"))


def test_publish_after_a_failure_works(site_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher = seeded(site_dir)
    with monkeypatch.context() as patch:
        _fail_at(patch, "replace", 3, errno.ENOSPC)
        with pytest.raises(PublishError):
            publisher.publish("# Third\n\nthree", make_meta(2))
    post = publisher.publish("# Third\n\nthree", make_meta(2))
    assert post.slug == "third"
    assert [p.slug for p in publisher.list_posts()] == ["third", "second", "first"]


class _Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no undo, no cleanup."""


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_new_publisher_repairs_a_site_left_by_a_killed_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    run = OPERATIONS[operation]
    probe = seeded(tmp_path / "probe")
    total = _count_calls(monkeypatch, "replace", lambda: run(probe))
    real_replace = os.replace
    for killed_at in range(1, total + 1):
        site_dir = tmp_path / f"site-{killed_at}"
        publisher = seeded(site_dir)
        calls = 0

        def dying(*args: Any, _at: int = killed_at, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == _at:
                raise _Killed
            real_replace(*args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", dying)
            with pytest.raises(_Killed):
                run(publisher)

        repaired = SitePublisher(site_dir)
        assert not list(site_dir.rglob(".tmp-*")), killed_at
        on_disk = {p.parent.name for p in (site_dir / "posts").glob("*/post.md")}
        listed = [p.slug for p in repaired.list_posts()]
        assert set(listed) == on_disk, killed_at
        assert {"second"} <= on_disk  # untouched posts are never lost
        if operation != "unpublish":
            assert "first" in on_disk
        index = (site_dir / "index.html").read_text()
        assert all(f'href="/posts/{slug}/"' in index for slug in listed)
        assert (site_dir / "feed.xml").read_bytes().count(b"<entry>") == len(listed)
