"""``blogpod up``: the whole Pod on one machine, as supervised child processes.

Each container becomes the same command it runs in Kubernetes (``blogpod serve <name>``),
each volume a folder under ``BLOGPOD_DATA_DIR``, with the same ``BLOGPOD_*`` variables.
This process plays the kubelet: it checks everything it can before starting (settings,
ports, nginx), starts the services together and waits for each to be ready, prefixes their
logs, restarts a crashed one with a doubling back-off, and on Ctrl-C or SIGTERM stops every
process group so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click
import httpx

from blogpod.config import CommonSettings, ConfigError, load_settings
from blogpod.pod_settings import PodSettings

#: The repository this module runs from, when it runs from a checkout (src/ layout).
CHECKOUT_DIR = Path(__file__).resolve().parents[2]
FIRST_POST_TOPIC = "What blogpod is: an AI writing agent running as one Kubernetes Pod"

_PR_SET_PDEATHSIG = 1
#: How often a starting service's readiness endpoint is asked (a local HTTP call: cheap).
_READY_POLL_S = 0.05


class PodError(Exception):
    """The Pod cannot start; the message says what to change."""


# --------------------------------------------------------------------------------------
# Layout and environment


@dataclass(frozen=True)
class PodLayout:
    """One folder per Pod volume under the data dir (names as in docs/architecture.md).

    The local model's weights are not here: they stay in the user's cache (see
    ``blogpod.llm.settings``), shared by every data dir, as they are large and read-only."""

    root: Path
    skills_source_override: Path | None = None

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def skills_shared(self) -> Path:
        return self.root / "skills-shared"

    @property
    def skills_source(self) -> Path:
        if self.skills_source_override is not None:
            return self.skills_source_override
        repo_skills = CHECKOUT_DIR / "skills"
        if (CHECKOUT_DIR / "pyproject.toml").is_file() and any(repo_skills.glob("*/SKILL.md")):
            return repo_skills
        return self.root / "skills-source"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def nginx(self) -> Path:
        return self.tmp / "nginx"

    def make(self) -> None:
        for folder in (self.site, self.state, self.skills_shared, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.skills_source.mkdir(parents=True, exist_ok=True)


def service_overrides(settings: PodSettings, layout: PodLayout) -> dict[str, str]:
    """The ``BLOGPOD_*`` variables the Pod's manifests set, with local folders for volumes."""
    return {
        "BLOGPOD_BIND": settings.bind,
        "BLOGPOD_PORT": str(settings.port),
        "BLOGPOD_AGENT_PORT": str(settings.agent_port),
        "BLOGPOD_SKILLS_PORT": str(settings.skills_port),
        "BLOGPOD_LLM_PORT": str(settings.llm_port),
        "BLOGPOD_SITE_DIR": str(layout.site),
        "BLOGPOD_STATE_DIR": str(layout.state),
        "BLOGPOD_SKILLS_SHARED": str(layout.skills_shared),
        "BLOGPOD_SKILLS_SOURCE": str(layout.skills_source),
        "BLOGPOD_NGINX_DIR": str(layout.nginx),
        "TMPDIR": str(layout.tmp),
        "PYTHONUNBUFFERED": "1",
    }


def _checkout_tools() -> dict[str, str]:
    """In a checkout, the pinned Copilot CLI that `make setup` installed under .cache/ (the
    Makefile exports the same variables; this makes plain `blogpod up` find it too)."""
    found = {}
    cli = CHECKOUT_DIR / ".cache" / "copilot-cli" / "copilot"
    pkg = CHECKOUT_DIR / ".cache" / "copilot-pkg"
    if "BLOGPOD_COPILOT_CLI" not in os.environ and cli.exists():
        found["BLOGPOD_COPILOT_CLI"] = str(cli)
    if "BLOGPOD_COPILOT_PKG_CACHE" not in os.environ and pkg.is_dir():
        found["BLOGPOD_COPILOT_PKG_CACHE"] = str(pkg)
    return found


# --------------------------------------------------------------------------------------
# Services


@dataclass(frozen=True)
class ServiceSpec:
    """One container of the Pod: its command's name, port and readiness path."""

    name: str
    port: int
    ready_path: str

    @property
    def ready_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.ready_path}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "blogpod", "serve", self.name]


def child_env(spec: ServiceSpec, env: Mapping[str, str]) -> dict[str, str]:
    """As in the Pod, only the web front end listens on ``BLOGPOD_BIND``: the other services
    stay on loopback whatever it is (exposing the blog must not expose the agent)."""
    if spec.name == "web":
        return dict(env)
    return {**env, "BLOGPOD_BIND": "127.0.0.1"}


def plan_services(settings: PodSettings, with_llm: bool) -> list[ServiceSpec]:
    """Start order: the skill server first (the agent reads its snapshots), the model before
    the agent that calls it, nginx last (it only proxies)."""
    specs = [ServiceSpec("skills", settings.skills_port, "/readyz")]
    if with_llm:
        specs.append(ServiceSpec("llm", settings.llm_port, "/readyz"))
    specs.append(ServiceSpec("agent", settings.agent_port, "/readyz"))
    specs.append(ServiceSpec("web", settings.port, "/healthz"))
    return specs


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if ``blogpod up`` itself dies (even by SIGKILL),
    so a crashed supervisor leaves no orphan."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LogPrinter:
    """Writes every line with the name of the process it came from, one writer at a time."""

    def __init__(self, out: IO[str], width: int = 6) -> None:
        self.out = out
        self.width = width
        self.lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{name:<{self.width}} | {text}\n")
            self.out.flush()

    def pump(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()


@dataclass
class Child:
    """A running (or waiting to restart) service, in its own process group."""

    spec: ServiceSpec
    env: Mapping[str, str]
    cwd: Path
    logs: LogPrinter
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = None
    _pump: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.spec.command(),
            env=dict(self.env),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert self.proc.stdout is not None
        self.started_at = time.monotonic()
        self.restart_at = None
        self._pump = threading.Thread(
            target=self.logs.pump, args=(self.spec.name, self.proc.stdout), daemon=True
        )
        self._pump.start()

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def probe(self) -> tuple[bool, str]:
        """Whether the readiness endpoint says ready, and what it said (for the error)."""
        try:
            resp = httpx.get(self.spec.ready_url, timeout=2.0)
        except httpx.HTTPError as exc:
            return False, repr(exc)
        return resp.status_code == 200, f"HTTP {resp.status_code} {resp.text[:500]}"


class Pod:
    """The supervisor: start in order, restart with back-off, stop everything."""

    def __init__(
        self,
        settings: PodSettings,
        specs: list[ServiceSpec],
        env: Mapping[str, str],
        logs: LogPrinter,
        stop_event: threading.Event,
    ) -> None:
        self.settings = settings
        self.logs = logs
        self.stopping = stop_event
        cwd = settings.data_dir.resolve()
        self.children = [Child(spec, child_env(spec, env), cwd, logs) for spec in specs]

    def say(self, text: str) -> None:
        self.logs.line("pod", text)

    def start(self) -> None:
        """Start every service at once, as the kubelet starts a Pod's containers, then wait
        until each is ready, in order; PodError if one cannot start.

        Starting together costs nothing in correctness (the agent is ready only once a skill
        snapshot is published, and nothing is submitted before all are ready) and makes the
        start-up as long as the slowest service instead of the sum of all.
        """
        if self.stopping.is_set():
            return
        for child in self.children:
            child.start()
        for child in self.children:
            if not self._wait_ready(child):
                return
            self.say(f"{child.spec.name} is ready on 127.0.0.1:{child.spec.port}")

    def _wait_ready(self, child: Child) -> bool:
        """True once ready; False if asked to stop meanwhile; PodError if it cannot be."""
        deadline = time.monotonic() + self.settings.ready_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                return False
            code = child.exit_code()
            if code is not None:
                raise PodError(
                    f"{child.spec.name} exited with code {code} while starting (its log is "
                    f"above, prefixed '{child.spec.name}')"
                )
            ready, last = child.probe()
            if ready:
                return True
            self.stopping.wait(_READY_POLL_S)
        raise PodError(
            f"{child.spec.name} was not ready at {child.spec.ready_url} after "
            f"{self.settings.ready_timeout:.0f} s (BLOGPOD_READY_TIMEOUT); last answer: {last}"
        )

    def supervise(self) -> None:
        """Until asked to stop: restart any service that exits, with a doubling back-off."""
        while not self.stopping.wait(0.25):
            now = time.monotonic()
            for child in self.children:
                self._tend(child, now)

    def _tend(self, child: Child, now: float) -> None:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restarts += 1
                self.say(f"restarting {child.spec.name} (restart #{child.restarts})")
                child.start()
            return
        code = child.exit_code()
        if code is None:
            if now - child.started_at > 60:
                child.backoff = 1.0  # ran long enough: the next crash starts the back-off anew
            return
        child.signal_group(signal.SIGKILL)  # anything it left in its group
        child.restart_at = now + child.backoff
        self.say(f"{child.spec.name} exited with code {code}; restarting in {child.backoff:.0f} s")
        child.backoff = min(child.backoff * 2, self.settings.restart_backoff_max)

    def stop(self) -> None:
        """SIGTERM every process group (last started first), then SIGKILL what remains."""
        running = [c for c in reversed(self.children) if c.proc is not None]
        for child in running:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.spec.name} did not stop in time: killing it")
            child.signal_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(5)


# --------------------------------------------------------------------------------------
# Checks before anything starts


def _load_service_settings(module: str, class_name: str, pod_vars: Mapping[str, str]) -> Any:
    """A service's settings as that service will see them (this environment plus the Pod's
    variables), so a bad value fails here, before anything starts."""
    cls: type[CommonSettings] = getattr(importlib.import_module(module), class_name)
    overrides = {}
    for key, value in pod_vars.items():
        name = key.removeprefix("BLOGPOD_").lower()
        if key.startswith("BLOGPOD_") and name in cls.model_fields:
            overrides[name] = value
    try:
        return load_settings(cls, **overrides)
    except ConfigError as exc:
        raise PodError(f"{getattr(cls, 'service_name', class_name)}: {exc}") from exc


def _check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PodError(
                f"port {port} ({what}) on {host} is already in use: stop what uses it, or "
                f"choose another with {what.split()[0]}"
            ) from exc


def check_ports(settings: PodSettings, specs: list[ServiceSpec]) -> None:
    variable = {
        "web": "BLOGPOD_PORT",
        "agent": "BLOGPOD_AGENT_PORT",
        "skills": "BLOGPOD_SKILLS_PORT",
        "llm": "BLOGPOD_LLM_PORT",
    }
    seen: dict[int, str] = {}
    for spec in specs:
        if spec.port in seen:
            raise PodError(
                f"{variable[spec.name]} and {variable[seen[spec.port]]} are both {spec.port}"
            )
        seen[spec.port] = spec.name
        host = settings.bind if spec.name == "web" else "127.0.0.1"
        _check_port_free(host, spec.port, f"{variable[spec.name]} for {spec.name}")


def prepare(pod_vars: Mapping[str, str]) -> bool:
    """Check every service's settings, nginx and the local model; returns whether the
    optional llm process is needed (the agent's provider is ``local``)."""
    from blogpod.web.nginx import NginxNotFound, find_nginx

    _load_service_settings("blogpod.skills.settings", "SkillsSettings", pod_vars)
    agent = _load_service_settings("blogpod.agent.settings", "AgentSettings", pod_vars)
    web = _load_service_settings("blogpod.web.settings", "WebSettings", pod_vars)
    try:
        find_nginx(web)
    except NginxNotFound as exc:
        raise PodError(str(exc)) from exc
    with_llm = agent.provider == "local"
    if with_llm and importlib.util.find_spec("blogpod.llm.server") is None:
        raise PodError(
            "the agent's provider is `local` (nothing else is configured) but the local model "
            "server is not installed: set BLOGPOD_PROVIDER (copilot, openai, azure, anthropic) "
            "with its settings, or install the local model (`make setup`)"
        )
    return bool(with_llm)


# --------------------------------------------------------------------------------------
# The command


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _write_first_post(url: str, logs: LogPrinter, stop: threading.Event) -> None:
    from blogpod.writer import build_payload, write_post

    def echo(text: str) -> None:
        logs.line("write", text)

    code = write_post(url, build_payload(FIRST_POST_TOPIC), echo=echo)
    if stop.is_set():
        return
    if code != 0:
        logs.line("pod", "the first post was not published (see above); the Pod keeps running")
    # Last line on the screen: where to go now.
    logs.line("pod", f"blogpod is running: blog {url}/ - studio {url}/studio/ - Ctrl-C stops it")


def run_pod(settings: PodSettings, *, write_first_post: bool, out: IO[str]) -> int:
    logs = LogPrinter(out)
    explicit_source = "skills_source" in settings.model_fields_set
    layout = PodLayout(
        settings.data_dir.resolve(), settings.skills_source.resolve() if explicit_source else None
    )
    pod_vars = service_overrides(settings, layout)
    pod_vars.update(_checkout_tools())
    # People read these logs in a terminal: text unless a format was asked for.
    pod_vars.setdefault("BLOGPOD_LOG_FORMAT", os.environ.get("BLOGPOD_LOG_FORMAT", "text"))
    env = {**os.environ, **pod_vars}
    try:
        with_llm = prepare(pod_vars)
        specs = plan_services(settings, with_llm)
        check_ports(settings, specs)
        layout.make()
    except PodError as exc:
        click.echo(f"blogpod up: {exc}", err=True)
        return 2

    stop = threading.Event()
    restore = _install_signal_handlers(stop)
    pod = Pod(settings, specs, env, logs, stop)
    url = f"http://127.0.0.1:{settings.port}"
    pod.say(f"data in {layout.root}, skills from {layout.skills_source}")
    try:
        try:
            pod.start()
        except PodError as exc:
            pod.say(f"cannot start: {exc}")
            return 1
        if stop.is_set():
            return 0
        pod.say(f"blogpod is up: {url}/ (studio: {url}/studio/) - Ctrl-C stops it")
        if write_first_post:
            threading.Thread(target=_write_first_post, args=(url, logs, stop), daemon=True).start()
        pod.supervise()
        return 0
    finally:
        pod.say("stopping")
        pod.stop()
        restore()
        pod.say("stopped")


@click.command()
@click.option(
    "--write-first-post",
    is_flag=True,
    help="Once ready, write a first post through the API (like `blogpod write --wait`).",
)
def up(write_first_post: bool) -> None:
    """Run the whole Pod locally (skills, agent, web; the local model when it is the
    provider) until Ctrl-C. Settings: BLOGPOD_* variables (`blogpod config`)."""
    settings = load_settings(PodSettings)
    sys.exit(run_pod(settings, write_first_post=write_first_post, out=sys.stdout))
