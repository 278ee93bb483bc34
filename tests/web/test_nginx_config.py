"""The rendered config: nginx -t accepts it in both flavours, and its key lines are there."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from blogpod.config import ConfigError, load_settings
from blogpod.web.nginx import NginxNotFound, find_nginx, nginx_command, render_config, write_config
from blogpod.web.settings import WebSettings


def local_settings(tmp_path: Path) -> WebSettings:
    return WebSettings(
        port=18080, site_dir=tmp_path / "site", nginx_dir=tmp_path / "nginx", access_log="off"
    )


def image_settings(tmp_path: Path) -> WebSettings:
    """What the container gets: every interface, port 8080, writable paths in an emptyDir."""
    return WebSettings(
        bind="0.0.0.0",
        port=8080,
        site_dir=Path("/srv/blog-site"),
        nginx_dir=tmp_path / "tmp-nginx",  # stands for the /tmp/nginx emptyDir
        access_log="/dev/stdout",
        worker_processes="auto",
    )


@pytest.mark.parametrize("flavour", [local_settings, image_settings], ids=["local", "image"])
def test_nginx_accepts_rendered_config(tmp_path: Path, flavour) -> None:  # type: ignore[no-untyped-def]
    settings = flavour(tmp_path)
    write_config(settings)
    result = subprocess.run(
        nginx_command(settings, "-t"), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def _location(config: str, header: str) -> str:
    start = config.index(header)
    depth = 0
    for i in range(config.index("{", start), len(config)):
        depth += {"{": 1, "}": -1}.get(config[i], 0)
        if depth == 0:
            return config[start : i + 1]
    raise AssertionError(f"unterminated {header}")


def test_event_stream_location_is_unbuffered(tmp_path: Path) -> None:
    config = render_config(local_settings(tmp_path))
    events = _location(config, "location ~ ^/api/v1/jobs/[^/]+/events$")
    assert "proxy_buffering off;" in events
    assert "gzip off;" in events
    assert "proxy_http_version 1.1;" in events
    assert re.search(r"proxy_read_timeout 3600s;", events)
    gzip_types = re.search(r"gzip_types ([^;]*);", config)
    assert gzip_types and "text/event-stream" not in gzip_types.group(1)


def test_image_flavour_listens_everywhere_and_writes_only_under_nginx_dir(tmp_path: Path) -> None:
    settings = image_settings(tmp_path)
    config = render_config(settings, euid=10001)
    assert "listen 0.0.0.0:8080;" in config
    assert "daemon off;" in config
    assert "user " not in config  # non-root: no user switch
    nginx_dir = str(settings.nginx_dir.resolve())
    for directive in (
        "pid",
        *(f"{k}_temp_path" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
    ):
        match = re.search(rf"^\s*{directive} (\S+);", config, re.MULTILINE)
        assert match, directive
        assert match.group(1).startswith(nginx_dir), (directive, match.group(1))


def test_root_keeps_workers_as_the_invoking_user(tmp_path: Path) -> None:
    config = render_config(local_settings(tmp_path), euid=0)
    assert "\nuser root;" in config


def test_ipv6_bind_is_bracketed(tmp_path: Path) -> None:
    config = render_config(WebSettings(bind="::", port=8080, nginx_dir=tmp_path))
    assert "listen [::]:8080;" in config


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOGPOD_POST_RATE", "lots")
    with pytest.raises(ConfigError, match="BLOGPOD_POST_RATE"):
        load_settings(WebSettings)


def test_missing_configured_nginx_is_a_clear_error(tmp_path: Path) -> None:
    settings = WebSettings(nginx_binary=str(tmp_path / "no-nginx"))
    with pytest.raises(NginxNotFound, match="BLOGPOD_NGINX_BINARY"):
        find_nginx(settings)


def test_serve_web_reports_missing_nginx(tmp_path: Path) -> None:
    from tests.support.processes import VENV_BIN, blogpod_env

    env = blogpod_env(
        BLOGPOD_NGINX_BINARY=str(tmp_path / "no-nginx"), BLOGPOD_NGINX_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [str(VENV_BIN / "blogpod"), "serve", "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "BLOGPOD_NGINX_BINARY" in result.stderr
