"""``blogpod config``: the table of every BLOGPOD_* variable, generated from the settings classes.

The README's configuration table is this command's output; a test keeps them equal.
"""

from __future__ import annotations

import importlib
from pathlib import PurePath
from typing import Any

import click
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from blogpod.config import ENV_PREFIX, CommonSettings

#: Modules that define a settings class; importing them registers the class.
SETTINGS_MODULES = (
    "blogpod.skills.settings",
    "blogpod.agent.settings",
    "blogpod.web.settings",
    "blogpod.llm.settings",
    "blogpod.pod_settings",
)


def settings_table() -> str:
    """A Markdown table: variable, default, used by, meaning."""
    rows: dict[str, tuple[str, set[str], str]] = {}
    for name in SETTINGS_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    for cls in CommonSettings.registry:
        service = getattr(cls, "service_name", cls.__name__)
        for field_name, field in cls.model_fields.items():
            var = _variable(field_name, field)
            default = _default(field)
            _, users, desc = rows.get(var, (default, set(), field.description or ""))
            rows[var] = (default, users | {service}, desc)
    lines = ["| variable | default | used by | meaning |", "|---|---|---|---|"]
    for var in sorted(rows):
        default, users, desc = rows[var]
        lines.append(f"| `{var}` | `{default}` | {', '.join(sorted(users))} | {desc} |")
    return "\n".join(lines)


def _variable(field_name: str, field: FieldInfo) -> str:
    """The env var a field reads: its first alias (COPILOT_GITHUB_TOKEN), else BLOGPOD_<NAME>."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0].upper()
    if isinstance(alias, str):
        return alias.upper()
    return ENV_PREFIX + field_name.upper()


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if field.is_required():
        return "(required)"
    if value is None:
        return "(unset)"
    if isinstance(value, PurePath | str):
        return str(value)
    return repr(value)


@click.command()
def config() -> None:
    """Print the table of BLOGPOD_* settings (Markdown)."""
    click.echo(settings_table())
