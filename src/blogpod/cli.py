"""The ``blogpod`` command.

Sub-commands are imported lazily so that each container only imports what it runs
(the skill server never loads the Copilot SDK).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from blogpod import __version__
from blogpod.config import ConfigError

#: command name -> "module:attribute" of a click command or group.
_LAZY: dict[str, str] = {
    "serve": "blogpod.serve:serve",
    "skills": "blogpod.skills.cli:skills",
    "up": "blogpod.pod:up",
    "write": "blogpod.writer:write",
    "config": "blogpod.settings_doc:config",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY:
            module_name, attr = _LAZY[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
@click.version_option(__version__, prog_name="blogpod")
def cli() -> None:
    """blogpod: write blog posts with an AI agent and publish them as a static blog."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="blogpod")
    except ConfigError as exc:
        click.echo(f"blogpod: {exc}", err=True)
        sys.exit(2)
