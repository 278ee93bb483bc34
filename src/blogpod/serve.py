"""``blogpod serve <service>``: run one container's process in the foreground."""

from __future__ import annotations

import importlib

import click

#: service -> "module:function" that runs it (blocking) and returns an exit code.
_SERVICES: dict[str, str] = {
    "skills": "blogpod.skills.app:run",
    "agent": "blogpod.agent.app:run",
    "web": "blogpod.web.nginx:run",
    "llm": "blogpod.llm.server:run",
}


@click.command()
@click.argument("service", type=click.Choice(sorted(_SERVICES)))
def serve(service: str) -> None:
    """Run one of the Pod's services (settings come from BLOGPOD_* variables)."""
    module_name, attr = _SERVICES[service].split(":")
    runner = getattr(importlib.import_module(module_name), attr)
    raise SystemExit(runner())
