"""The watcher follows the kubelet's atomic `..data` swap; the periodic resync backs it up."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from blogpod.skills import watcher as watcher_mod
from blogpod.skills.catalog import CatalogUnavailable, PublishedCatalog, load_current
from blogpod.skills.publisher import Publisher
from blogpod.skills.watcher import SourceWatcher
from tests.skills.helpers import skill_md

DEADLINE = 30.0  # a logical bound: the watcher publishes within about a second


class ConfigMapMount:
    """A folder laid out the way the kubelet's atomic writer lays out a mounted ConfigMap."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        root.mkdir()

    def update(self, payload: dict[str, str]) -> None:
        """Write a new timestamped payload folder, then swap `..data` atomically, like kubelet."""
        self.generation += 1
        new = self.root / f"..2026_12_03_20_00_{self.generation:02d}.000000001"
        for rel, text in payload.items():
            path = new / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        old = os.readlink(self.root / "..data") if (self.root / "..data").is_symlink() else None
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(new.name)
        os.replace(tmp, self.root / "..data")
        tops = {rel.split("/", 1)[0] for rel in payload}
        for top in tops:
            link = self.root / top
            if not link.is_symlink():
                link.symlink_to(f"..data/{top}")
        for entry in self.root.iterdir():
            if not entry.name.startswith("..") and entry.name not in tops:
                entry.unlink()
        if old:
            shutil.rmtree(self.root / old)


def wait_for(predicate: Callable[[PublishedCatalog], bool], shared: Path) -> PublishedCatalog:
    deadline = time.monotonic() + DEADLINE
    last = None
    while time.monotonic() < deadline:
        try:
            last = load_current(shared)
            if predicate(last):
                return last
        except CatalogUnavailable:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not published within {DEADLINE}s; last catalog: {last and last.catalog}")


@pytest.fixture
def mount(tmp_path: Path) -> ConfigMapMount:
    return ConfigMapMount(tmp_path / "source")


@pytest.fixture
def running(mount: ConfigMapMount, tmp_path: Path) -> Iterator[tuple[Publisher, SourceWatcher]]:
    mount.update({"a/SKILL.md": skill_md("a", body="v1\n")})
    publisher = Publisher(mount.root, tmp_path / "shared")
    publisher.sync()
    # a resync interval far beyond the deadline: only the watch can publish in time
    watcher = SourceWatcher(mount.root, lambda reason: publisher.sync(), resync_interval=3600)
    watcher.start()
    assert watcher.watching.wait(DEADLINE)
    yield publisher, watcher
    watcher.stop()


def test_data_swap_is_published(
    running: tuple[Publisher, SourceWatcher], mount: ConfigMapMount, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    assert load_current(shared).read_skill_body("a") == skill_md("a", body="v1\n")
    mount.update({"a/SKILL.md": skill_md("a", body="v2\n")})
    live = wait_for(lambda c: c.read_skill_body("a") == skill_md("a", body="v2\n"), shared)
    assert live.catalog.names() == ["a"]


def test_added_and_removed_keys_are_followed(
    running: tuple[Publisher, SourceWatcher], mount: ConfigMapMount, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    mount.update({"a/SKILL.md": skill_md("a", body="v1\n"), "b.md": skill_md("b")})
    wait_for(lambda c: c.catalog.names() == ["a", "b"], shared)
    mount.update({"b.md": skill_md("b")})
    wait_for(lambda c: c.catalog.names() == ["b"], shared)


def test_invalid_update_keeps_last_good(
    running: tuple[Publisher, SourceWatcher], mount: ConfigMapMount, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    mount.update({"a/SKILL.md": "---\nname: a\n---\nno description\n"})
    live = wait_for(lambda c: c.catalog.skills[0].status == "stale", shared)
    assert live.read_skill_body("a") == skill_md("a", body="v1\n")


def test_plain_folder_edits_are_followed(tmp_path: Path) -> None:
    source, shared = tmp_path / "src", tmp_path / "shared"
    (source / "a").mkdir(parents=True)
    (source / "a" / "SKILL.md").write_text(skill_md("a", body="v1\n"))
    publisher = Publisher(source, shared)
    publisher.sync()
    watcher = SourceWatcher(source, lambda reason: publisher.sync(), resync_interval=3600)
    watcher.start()
    try:
        assert watcher.watching.wait(DEADLINE)
        (source / "a" / "SKILL.md").write_text(skill_md("a", body="v2\n"))
        wait_for(lambda c: c.read_skill_body("a") == skill_md("a", body="v2\n"), shared)
    finally:
        watcher.stop()


def test_replaced_source_folder_is_watched_again(tmp_path: Path) -> None:
    source, shared = tmp_path / "src", tmp_path / "shared"
    source.mkdir()
    publisher = Publisher(source, shared)
    publisher.sync()
    watcher = SourceWatcher(source, lambda reason: publisher.sync(), resync_interval=3600)
    watcher.start()
    try:
        assert watcher.watching.wait(DEADLINE)
        replacement = tmp_path / "new-src"
        (replacement / "a").mkdir(parents=True)
        (replacement / "a" / "SKILL.md").write_text(skill_md("a"))
        source.rename(tmp_path / "old-src")
        replacement.rename(source)
        wait_for(lambda c: c.catalog.names() == ["a"], shared)
        (source / "b.md").write_text(skill_md("b"))
        wait_for(lambda c: c.catalog.names() == ["a", "b"], shared)
    finally:
        watcher.stop()


def test_periodic_resync_catches_what_the_watch_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def blind_watch(*paths: Path, stop_event: threading.Event, **kw: object) -> Iterator[set]:
        stop_event.wait()
        return iter(())

    monkeypatch.setattr(watcher_mod.watchfiles, "watch", blind_watch)
    source, shared = tmp_path / "src", tmp_path / "shared"
    source.mkdir()
    publisher = Publisher(source, shared)
    watcher = SourceWatcher(source, lambda reason: publisher.sync(), resync_interval=0.2)
    watcher.start()
    try:
        (source / "a.md").write_text(skill_md("a"))
        wait_for(lambda c: c.catalog.names() == ["a"], shared)
    finally:
        watcher.stop()


def test_failing_resync_is_counted_and_survived(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(reason: str) -> None:
        calls.append(reason)
        if len(calls) == 1:
            raise OSError("disk hiccup")

    source = tmp_path / "missing-at-first"
    watcher = SourceWatcher(source, flaky, resync_interval=0.1)
    watcher.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert len(calls) >= 3
    assert watcher.errors == 1
