"""Build skill folders for tests."""

from __future__ import annotations

from pathlib import Path

import yaml

GOOD_DESCRIPTION = "Writes short technical notes for tests."


def skill_md(name: str = "demo", body: str = "# Demo\n\nDo the thing.\n", **front: object) -> str:
    data: dict[str, object] = {"name": name, "description": GOOD_DESCRIPTION}
    data.update(front)
    data = {k: v for k, v in data.items() if v is not None}
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n" + body


def write_skill(
    root: Path, name: str, text: str | None = None, files: dict[str, str] | None = None
) -> Path:
    """A tree-layout skill ``root/name/SKILL.md`` plus ``files`` (relative path -> text)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(text if text is not None else skill_md(name))
    for rel, content in (files or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return folder
