"""A skill source turns invalid while the Pod runs.

Expected outcome for each change (bad YAML, a bad name, an oversized SKILL.md, a symlink out
of the source folder): the last good version stays live (same version, status ``stale``), the
findings are reported by the API through nginx (which skill, which rule), a job written
meanwhile records the last good version, nothing from outside the source folder is published,
and once the source is repaired the skill is ``ok`` again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.checks import assert_healthy, topic, wait_for
from tests.faults.conftest import MAX_SKILL_MD_BYTES, Provider
from tests.support.pod import LocalPod

pytestmark = pytest.mark.slow

SKILL = "blog-writer"
#: Bound on the watcher (plus its periodic resync, 5 s in the fault Pod) noticing a change.
PROPAGATION_S = 30
#: A file outside the source folder that must never be published.
OUTSIDE_SECRET = "outside-the-source-folder: not for publishing\n"


def _bad_yaml(folder: Path, good: str) -> None:
    (folder / "SKILL.md").write_text("---\nname: [blog-writer\ndescription: : :\n---\nbody\n")


def _bad_name(folder: Path, good: str) -> None:
    (folder / "SKILL.md").write_text(good.replace(f"name: {SKILL}", "name: Blog_Writer!", 1))


def _oversized(folder: Path, good: str) -> None:
    filler = "\n" + ("All work and no play makes a very long skill. " * 40 + "\n") * 60
    text = good + filler
    assert len(text.encode()) > MAX_SKILL_MD_BYTES
    (folder / "SKILL.md").write_text(text)


def _symlink_out(folder: Path, good: str) -> None:
    secret = folder.parents[1] / "outside-secret.txt"  # beside the source folder, not in it
    secret.write_text(OUTSIDE_SECRET)
    (folder / "references").mkdir(exist_ok=True)
    os.symlink(secret, folder / "references" / "secret.md")


CHANGES: dict[str, Callable[[Path, str], None]] = {
    "bad-yaml": _bad_yaml,
    "bad-name": _bad_name,
    "oversized": _oversized,
    "symlink-out": _symlink_out,
}


def _skill(pod: LocalPod) -> dict[str, Any]:
    resp = pod.http.get(f"/api/v1/skills/{SKILL}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture
def skill_folder(fresh: LocalPod) -> Iterator[Path]:
    """The live skill's source folder, restored (and seen ``ok`` again) after the test."""
    folder = fresh.layout.skills_source / SKILL
    backup = fresh.layout.tmp / f"{SKILL}-backup"
    shutil.rmtree(backup, ignore_errors=True)
    shutil.copytree(folder, backup, symlinks=True)
    wait_for(lambda: _skill(fresh).get("status") == "ok", PROPAGATION_S, "skill ok at start")
    good_version = _skill(fresh)["version"]
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
        shutil.copytree(backup, folder, symlinks=True)
        (fresh.layout.skills_source.parent / "outside-secret.txt").unlink(missing_ok=True)
        repaired = wait_for(
            lambda: (s := _skill(fresh))["status"] == "ok" and s, PROPAGATION_S, "repaired"
        )
        assert repaired["version"] == good_version, "the same content must give the same version"


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_invalid_skill_keeps_last_good_version(
    fresh: LocalPod, provider: Provider, skill_folder: Path, change: str
) -> None:
    good = _skill(fresh)
    good_text = (skill_folder / "SKILL.md").read_text()
    CHANGES[change](skill_folder, good_text)

    stale = wait_for(
        lambda: (s := _skill(fresh))["status"] == "stale" and s, PROPAGATION_S, f"{change} seen"
    )
    # The last good version stays live ...
    assert stale["version"] == good["version"]
    # ... and the API says what is wrong: which skill, which rule, as an error.
    errors = [f for f in stale["findings"] if f["severity"] == "error"]
    assert errors, stale
    assert all(f["skill"] == SKILL and f["rule"] and f["message"] for f in errors), errors

    # A job written now follows the last good version and records it.
    job = fresh.wait_job(fresh.write(topic(f"skill-{change}"))["id"], timeout=120)
    assert job["status"] == "succeeded", f"{job}\n{fresh.logs()[-3000:]}"
    assert job["skill"] == SKILL and job["skill_version"] == good["version"]

    # Nothing from outside the source folder reached the published snapshot.
    shared = fresh.layout.skills_shared / "current"
    for path in shared.rglob("*"):
        if path.is_file():
            assert OUTSIDE_SECRET not in path.read_text(errors="replace"), path
    raw = fresh.http.get(f"/api/v1/skills/{SKILL}/raw")
    assert raw.status_code == 200 and OUTSIDE_SECRET not in raw.text
    assert_healthy(fresh)
