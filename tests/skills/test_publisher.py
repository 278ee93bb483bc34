"""Snapshots: layout, atomic swaps, per-skill last good, deletions and garbage collection."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from blogpod.skills.catalog import CatalogUnavailable, load_current
from blogpod.skills.publisher import Publisher
from tests.skills.helpers import skill_md, write_skill


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    source, shared = tmp_path / "source", tmp_path / "shared"
    source.mkdir()
    return source, shared


def test_publishes_the_contract_layout(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a", files={"scripts/run.sh": "echo hi\n"})
    (source / "b.md").write_text(skill_md("b"))
    result = Publisher(source, shared).sync()
    assert result.changed and result.skills == 2
    link = shared / "current"
    assert link.is_symlink()
    assert os.readlink(link) == f"snapshots/{result.snapshot}"
    snap = shared / "snapshots" / result.snapshot
    assert (snap / "skills/a/SKILL.md").read_text() == skill_md("a")
    assert (snap / "skills/a/scripts/run.sh").read_text() == "echo hi\n"
    assert (snap / "skills/b/SKILL.md").read_text() == skill_md("b")
    live = load_current(shared)
    assert live.catalog.snapshot == result.snapshot
    assert live.catalog.names() == ["a", "b"]
    entry = live.catalog.get("a")
    assert entry is not None and entry.status == "ok"
    assert [f.path for f in entry.files] == ["SKILL.md", "scripts/run.sh"]
    assert len(entry.version) == 16
    assert live.read_skill_body("b") == skill_md("b")
    assert not list(shared.glob(".tmp-*")) and not list((shared / "snapshots").glob(".tmp-*"))


def test_nothing_published_before_the_first_sync(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    publisher = Publisher(source, shared)
    assert not publisher.ready
    with pytest.raises(CatalogUnavailable):
        load_current(shared)


def test_unchanged_source_publishes_nothing_new(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    publisher = Publisher(source, shared)
    first = publisher.sync()
    again = publisher.sync()
    assert (again.snapshot, again.changed) == (first.snapshot, False)
    assert publisher.stats.publishes == 1


def test_version_is_the_content_hash(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    publisher = Publisher(source, shared)
    publisher.sync()
    v1 = load_current(shared).catalog.skills[0].version
    write_skill(source, "a", skill_md("a", body="changed\n"))
    publisher.sync()
    v2 = load_current(shared).catalog.skills[0].version
    write_skill(source, "a")
    publisher.sync()
    assert v1 != v2
    assert load_current(shared).catalog.skills[0].version == v1


def test_invalid_change_keeps_the_last_good_version(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    write_skill(source, "b")
    publisher = Publisher(source, shared)
    publisher.sync()
    good = load_current(shared).catalog.get("a")
    assert good is not None
    write_skill(source, "a", "---\nname: a\ndescription: [broken\n---\n")
    write_skill(source, "b", skill_md("b", body="new body\n"))
    publisher.sync()
    live = load_current(shared)
    a, b = live.catalog.get("a"), live.catalog.get("b")
    assert a is not None and b is not None
    assert (a.status, a.version) == ("stale", good.version)
    assert [f.rule for f in a.findings] == ["front-matter-yaml"]
    assert live.read_skill_body("a") == skill_md("a")
    assert b.status == "ok" and live.read_skill_body("b") == skill_md("b", body="new body\n")
    # fixing it publishes the fix
    write_skill(source, "a", skill_md("a", body="fixed\n"))
    publisher.sync()
    fixed = load_current(shared).catalog.get("a")
    assert fixed is not None and fixed.status == "ok" and fixed.findings == []
    history = [(v.status, v.version) for v in publisher.history["a"]]
    assert history == [("ok", good.version), ("stale", good.version), ("ok", fixed.version)]


def test_never_valid_skill_is_rejected_not_published(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    write_skill(source, "bad", skill_md("other"))
    Publisher(source, shared).sync()
    live = load_current(shared)
    assert live.catalog.names() == ["a"]
    assert [(f.skill, f.rule) for f in live.catalog.rejected] == [("bad", "name-mismatch")]
    assert not (live.root / "skills/bad").exists()


def test_deleted_skill_leaves_the_catalog(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    write_skill(source, "b")
    publisher = Publisher(source, shared)
    publisher.sync()
    shutil.rmtree(source / "b")
    publisher.sync()
    assert load_current(shared).catalog.names() == ["a"]


def test_deleted_stale_skill_leaves_the_catalog(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    write_skill(source, "b")
    publisher = Publisher(source, shared)
    publisher.sync()
    write_skill(source, "b", "not a skill\n")
    publisher.sync()
    assert load_current(shared).catalog.names() == ["a", "b"]
    shutil.rmtree(source / "b")
    publisher.sync()
    assert load_current(shared).catalog.names() == ["a"]


def test_restart_adopts_the_live_snapshot_as_last_good(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    write_skill(source, "a")
    first = Publisher(source, shared).sync()
    write_skill(source, "a", "broken\n")
    restarted = Publisher(source, shared)
    assert restarted.ready
    restarted.sync()
    live = load_current(shared)
    entry = live.catalog.get("a")
    assert entry is not None and entry.status == "stale"
    assert live.read_skill_body("a") == skill_md("a")
    assert live.catalog.snapshot != first.snapshot


def test_gc_keeps_the_newest_and_never_the_live_one(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    publisher = Publisher(source, shared, snapshots_to_keep=2)
    (shared / "snapshots" / ".tmp-crashed-1234").mkdir()
    for i in range(5):
        write_skill(source, "a", skill_md("a", body=f"v{i}\n"))
        publisher.sync()
    names = sorted(p.name for p in (shared / "snapshots").iterdir())
    live = os.path.basename(os.readlink(shared / "current"))
    assert len(names) == 2 and live in names
    assert load_current(shared).read_skill_body("a") == skill_md("a", body="v4\n")


def test_gc_with_keep_one_keeps_only_live(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    publisher = Publisher(source, shared, snapshots_to_keep=1)
    for i in range(3):
        write_skill(source, "a", skill_md("a", body=f"v{i}\n"))
        publisher.sync()
    live = os.path.basename(os.readlink(shared / "current"))
    assert [p.name for p in (shared / "snapshots").iterdir()] == [live]


def test_going_back_reuses_an_existing_snapshot(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    publisher = Publisher(source, shared)
    write_skill(source, "a")
    first = publisher.sync()
    write_skill(source, "a", skill_md("a", body="other\n"))
    publisher.sync()
    write_skill(source, "a")
    back = publisher.sync()
    assert back.snapshot == first.snapshot and back.changed
    assert load_current(shared).read_skill_body("a") == skill_md("a")


def test_readers_never_see_a_partial_catalog(dirs: tuple[Path, Path]) -> None:
    """A reader looping over `current` during many swaps always gets a whole, consistent one."""
    source, shared = dirs
    publisher = Publisher(source, shared, snapshots_to_keep=10)
    write_skill(source, "a", skill_md("a", body="v0\n"))
    publisher.sync()
    stop = threading.Event()
    problems: list[str] = []
    reads = {"n": 0}

    def reader() -> None:
        while not stop.is_set() and reads["n"] < 100_000:
            try:
                live = load_current(shared)
            except CatalogUnavailable as exc:
                problems.append(str(exc))
                continue
            entry = live.catalog.get("a")
            if entry is None or len(live.catalog.skills) != 1:
                problems.append(f"bad catalog {live.catalog}")
            reads["n"] += 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 60):
            write_skill(source, "a", skill_md("a", body=f"v{i}\n"))
            assert publisher.sync().changed
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert problems == []
    assert reads["n"] > 0


@pytest.mark.parametrize("fail_on", ["write", "swap"])
def test_failed_publish_leaves_the_live_snapshot_untouched(
    dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, fail_on: str
) -> None:
    from blogpod.skills import publisher as publisher_mod

    source, shared = dirs
    write_skill(source, "a", skill_md("a", body="v1\n"))
    publisher = Publisher(source, shared)
    first = publisher.sync()
    write_skill(source, "a", skill_md("a", body="v2\n"), files={"more.md": "x\n"})

    def broken(*args: object) -> None:
        raise OSError("No space left on device")

    if fail_on == "write":
        monkeypatch.setattr(publisher_mod, "_write_file", broken)
    else:
        monkeypatch.setattr(publisher_mod.os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        publisher.sync()
    monkeypatch.undo()
    live = load_current(shared)
    assert live.catalog.snapshot == first.snapshot and publisher.current is not None
    assert publisher.current.catalog.snapshot == first.snapshot
    assert live.read_skill_body("a") == skill_md("a", body="v1\n")
    assert publisher.stats.sync_errors == 1
    assert not list(shared.glob(".tmp-*"))
    if fail_on == "write":
        assert not list((shared / "snapshots").glob(".tmp-*"))
    assert publisher.sync().changed
    assert load_current(shared).read_skill_body("a") == skill_md("a", body="v2\n")


def test_gc_never_removes_the_live_snapshot_even_when_oldest(dirs: tuple[Path, Path]) -> None:
    source, shared = dirs
    publisher = Publisher(source, shared, snapshots_to_keep=1)
    write_skill(source, "a")
    live = shared / "snapshots" / publisher.sync().snapshot
    older = shared / "snapshots" / "0123456789abcdef"
    shutil.copytree(live, older)
    os.utime(live, (0, 0))  # the live one looks oldest
    assert publisher.collect_garbage() == [older.name]
    assert live.is_dir() and load_current(shared).catalog.names() == ["a"]
