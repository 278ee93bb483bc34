"""Fixtures for the web tests: nginx (the real binary) in front of fake upstreams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.processes import VENV_BIN, ServiceProcess, blogpod_env, free_port
from tests.web.fake_upstream import FakeUpstream

SAMPLE_POST = "hello-world"

#: Debian's Chromium, driven by Playwright (never `playwright install`).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def make_sample_site(site: Path) -> Path:
    """A published blog as the site publisher lays it out (index, one post, feed, css)."""
    (site / "posts" / SAMPLE_POST).mkdir(parents=True)
    (site / "assets").mkdir()
    (site / "index.html").write_text("<!doctype html><title>Blog</title><h1>Blog index</h1>")
    (site / "posts" / SAMPLE_POST / "index.html").write_text(
        "<!doctype html><title>Hello</title><h1>Hello world</h1>" + "<p>words</p>" * 200
    )
    (site / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Blog</title></feed>"
    )
    (site / "assets" / "blog.css").write_text("body { margin: 0 }\n" * 100)
    (site / ".secret").write_text("not for the web")
    return site


@dataclass
class Front:
    """nginx running on ``url`` with its two fake upstreams."""

    url: str
    agent: FakeUpstream
    skills: FakeUpstream
    process: ServiceProcess
    env: dict[str, str]


def web_env(tmp_path: Path, agent_port: int, skills_port: int, **extra: str) -> dict[str, str]:
    return blogpod_env(
        BLOGPOD_PORT=str(free_port()),
        BLOGPOD_AGENT_PORT=str(agent_port),
        BLOGPOD_SKILLS_PORT=str(skills_port),
        BLOGPOD_SITE_DIR=str(make_sample_site(tmp_path / "site")),
        BLOGPOD_NGINX_DIR=str(tmp_path / "nginx"),
        BLOGPOD_POST_RATE="2r/m",
        BLOGPOD_POST_BURST="3",
        BLOGPOD_CLIENT_MAX_BODY_SIZE="4k",
        **extra,
    )


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    with FakeUpstream("agent") as agent, FakeUpstream("skills") as skills:
        env = web_env(tmp_path, agent.port, skills.port)
        proc = ServiceProcess([str(VENV_BIN / "blogpod"), "serve", "web"], env=env)
        url = f"http://127.0.0.1:{env['BLOGPOD_PORT']}"
        try:
            proc.wait_http(f"{url}/healthz", timeout=30)
            yield Front(url, agent, skills, proc, env)
        finally:
            proc.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
