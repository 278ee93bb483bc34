"""The Copilot engine: one Copilot CLI per agent process, one short-lived session per job.

Safe profile (see the Copilot SDK notes): the CLI binary is passed explicitly (the SDK never
downloads one), it runs with a clean environment, its home lives on the state volume, its
working folder is empty, no built-in tool is offered and every permission request is denied.
The model only writes text; the service writes files.

A watchdog pings the CLI twice a second. When the CLI dies (also in the middle of a turn, where
the SDK would otherwise wait for its own timeout) the turns in flight fail with
:class:`CliDied` within about two seconds and the client is restarted, so the job can be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copilot import CopilotClient, ProviderConfig, RuntimeConnection
from copilot.generated.rpc import PermissionDecisionReject
from copilot.generated.session_events import (
    AssistantMessageData,
    AssistantMessageDeltaData,
    AssistantUsageData,
    SessionErrorData,
    SessionEventType,
)

from blogpod.agent.settings import AgentSettings

log = logging.getLogger(__name__)

_WATCH_INTERVAL_S = 0.5
_PING_TIMEOUT_S = 1.0
_MISSED_PINGS_DEAD = 3
_CLEANUP_TIMEOUT_S = 3.0
_RESTART_PAUSE_S = 5.0


class EngineError(Exception):
    """A turn did not produce a post. ``transient`` errors are worth another try."""

    transient = False


class ProviderError(EngineError):
    """The model provider refused or failed the request."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class ProviderStalled(EngineError):
    """No output from the provider for the inactivity timeout."""

    transient = True


class CliDied(EngineError):
    """The Copilot CLI process exited during the turn; the engine restarts it."""

    transient = True


class EngineUnavailable(EngineError):
    """The Copilot CLI could not be started (missing binary, broken install)."""


@dataclass
class TurnResult:
    text: str
    input_tokens: int
    output_tokens: int


@dataclass
class TurnCallbacks:
    """Called from the event loop as the turn progresses."""

    on_delta: Callable[[str], None]
    on_reset: Callable[[], None]
    on_usage: Callable[[int, int], None]


def cli_environment(settings: AgentSettings, home: Path) -> dict[str, str]:
    """A clean environment for the CLI: nothing inherited, no proxy for loopback."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "COPILOT_SKIP_CLI_DOWNLOAD": "1",
        "COPILOT_HOME": str(home),
    }
    if settings.copilot_pkg_cache is not None:
        env["COPILOT_PKG_CACHE_HOME"] = str(settings.copilot_pkg_cache)
    return env


def _reject_all(request: Any, invocation: Any) -> PermissionDecisionReject:
    return PermissionDecisionReject(feedback="This service does not allow any tool use.")


class CopilotEngine:
    """Owns the CopilotClient; :meth:`write` runs one job turn in its own session."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "copilot-home"
        self.workdir = settings.state_dir / "copilot-work"
        self._client: CopilotClient | None = None
        self._generation = 0
        self._dead = asyncio.Event()
        self._lock = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None
        self._closing = False
        self.last_error: str | None = None
        self.active_sessions = 0
        self.restarts = 0
        self.started = False

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the CLI and its watchdog (which keeps retrying if this first start fails)."""
        self._closing = False
        self._watchdog = asyncio.create_task(self._watch(), name="copilot-watchdog")
        async with self._lock:
            await self._start_client()

    async def stop(self) -> None:
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        async with self._lock:
            await self._stop_client()

    async def _start_client(self) -> None:
        cli = self.settings.copilot_cli
        if not cli.is_file():
            self.last_error = (
                f"Copilot CLI not found at {cli}: set BLOGPOD_COPILOT_CLI (run `make setup`)"
            )
            raise EngineUnavailable(self.last_error)
        self.home.mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        token = self.settings.copilot_github_token
        client = CopilotClient(
            connection=RuntimeConnection.for_stdio(path=str(cli)),
            env=cli_environment(self.settings, self.home),
            base_directory=str(self.home),
            working_directory=str(self.workdir),
            use_logged_in_user=False,
            github_token=token.get_secret_value() if token is not None else None,
            mode="empty",
            log_level="error",
        )
        begun = time.monotonic()
        try:
            await client.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await client.force_stop()
            self.last_error = f"the Copilot CLI did not start: {exc}"
            raise EngineUnavailable(self.last_error) from exc
        self.last_error = None
        await self._delete_stale_sessions(client)
        self._client = client
        self._generation += 1
        self._dead = asyncio.Event()
        self.started = True
        log.info(
            "copilot cli started",
            extra={"generation": self._generation, "seconds": round(time.monotonic() - begun, 2)},
        )

    async def _delete_stale_sessions(self, client: CopilotClient) -> None:
        """Sessions on disk belong to a CLI that died mid-job; nothing ever resumes them."""
        try:
            stale = await asyncio.wait_for(client.list_sessions(), _CLEANUP_TIMEOUT_S)
        except Exception:
            log.warning("could not list stale copilot sessions", exc_info=True)
            return
        for meta in stale:
            try:
                await asyncio.wait_for(client.delete_session(meta.session_id), _CLEANUP_TIMEOUT_S)
            except Exception:
                log.warning("could not delete a stale copilot session", exc_info=True)
        if stale:
            log.info("deleted stale copilot sessions", extra={"count": len(stale)})

    async def _stop_client(self) -> None:
        client, self._client = self._client, None
        self.started = False
        if client is None:
            return
        try:
            await asyncio.wait_for(client.stop(), 5.0)
        except BaseException:
            with contextlib.suppress(Exception):
                await client.force_stop()

    async def _watch(self) -> None:
        missed = 0
        while not self._closing:
            await asyncio.sleep(_WATCH_INTERVAL_S)
            client, generation = self._client, self._generation
            if client is None:
                dead = not self._lock.locked()  # not while a (re)start is under way
            else:
                try:
                    await asyncio.wait_for(client.ping(), _PING_TIMEOUT_S)
                    missed = 0
                    continue
                except TimeoutError:
                    missed += 1
                    dead = missed >= _MISSED_PINGS_DEAD
                except Exception:
                    dead = True
            if dead and not self._closing:
                missed = 0
                await self._restart(generation)

    async def _restart(self, seen_generation: int) -> None:
        async with self._lock:
            if self._generation != seen_generation and self._client is not None:
                return  # someone else restarted it meanwhile
            log.warning("copilot cli is gone; restarting it", extra={"gen": self._generation})
            self._dead.set()
            await self._stop_client()
            self.restarts += 1
            try:
                await self._start_client()
                return
            except EngineUnavailable as exc:
                log.error(
                    "copilot cli restart failed (retrying in %s s): %s", _RESTART_PAUSE_S, exc
                )
        await asyncio.sleep(_RESTART_PAUSE_S)

    async def ping(self) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await asyncio.wait_for(client.ping(), _PING_TIMEOUT_S)
        except Exception:
            return False
        return True

    # --- one turn ---------------------------------------------------------------------------

    def _provider_config(self) -> ProviderConfig | None:
        s = self.settings
        if s.provider == "copilot" or s.provider is None:
            return None
        config: ProviderConfig = {"type": "openai" if s.provider == "local" else s.provider}
        if s.effective_base_url:
            config["base_url"] = s.effective_base_url
        if s.provider != "anthropic":
            config["wire_api"] = s.wire_api
        if s.provider_api_key is not None:
            config["api_key"] = s.provider_api_key.get_secret_value()
        elif s.provider == "local":
            config["api_key"] = "local"
        return config

    async def write(
        self,
        system_message: str,
        prompt: str,
        callbacks: TurnCallbacks,
        *,
        deadline: float,
        inactivity_s: float,
    ) -> TurnResult:
        """Run one turn; ``deadline`` is a ``time.monotonic()`` value."""
        async with self._lock:  # never create a session on a client being restarted
            client, dead = self._client, self._dead
        if client is None:
            raise EngineUnavailable(self.last_error or "the Copilot CLI is not running")
        turn = _Turn(callbacks)
        try:
            session = await client.create_session(
                on_permission_request=_reject_all,
                model=None
                if self.settings.provider == "copilot" and not self.settings.model
                else self.settings.effective_model,
                provider=self._provider_config(),
                streaming=True,
                system_message={"mode": "replace", "content": system_message},
                available_tools=[],
                enable_skills=False,
                working_directory=str(self.workdir),
                on_event=turn.on_event,
            )
        except Exception as exc:
            if dead.is_set():
                raise CliDied("the Copilot CLI exited while a session was opened") from exc
            raise
        self.active_sessions += 1
        try:
            return await self._drive(session, prompt, turn, dead, deadline, inactivity_s)
        finally:
            self.active_sessions -= 1
            await self._cleanup(client, session, dead)

    async def _drive(
        self,
        session: Any,
        prompt: str,
        turn: _Turn,
        dead: asyncio.Event,
        deadline: float,
        inactivity_s: float,
    ) -> TurnResult:
        task = asyncio.create_task(session.send_and_wait(prompt, timeout=24 * 3600.0))
        dead_wait = asyncio.create_task(dead.wait())
        try:
            while True:
                now = time.monotonic()
                stall_at = turn.last_activity + inactivity_s if turn.in_call else deadline
                wait_s = max(0.0, min(deadline - now, stall_at - now))
                done, _ = await asyncio.wait(
                    {task, dead_wait}, timeout=min(wait_s, 0.5) + 0.01,
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                if task in done:
                    return turn.result(task)
                if dead_wait in done:
                    raise CliDied("the Copilot CLI exited in the middle of the turn")
                now = time.monotonic()
                if now >= deadline:
                    raise TimeoutError("the job took longer than its total timeout")
                if turn.in_call and now - turn.last_activity >= inactivity_s:
                    raise ProviderStalled(f"the model provider sent nothing for {inactivity_s:g} s")
        finally:
            for t in (task, dead_wait):
                if not t.done():
                    t.cancel()
            await asyncio.gather(task, dead_wait, return_exceptions=True)
            failed = task.cancelled() or task.exception() is not None
            if failed and not dead.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(session.abort(), _CLEANUP_TIMEOUT_S)

    async def _cleanup(self, client: CopilotClient, session: Any, dead: asyncio.Event) -> None:
        if dead.is_set():
            return  # the CLI (and every session in it) is gone
        try:
            await asyncio.wait_for(client.delete_session(session.session_id), _CLEANUP_TIMEOUT_S)
        except Exception:
            log.warning("could not delete copilot session", exc_info=True)


class _Turn:
    """Collects one session's events: text (reset on retries), usage, the last error."""

    def __init__(self, callbacks: TurnCallbacks) -> None:
        self.callbacks = callbacks
        self.buffer: list[str] = []
        self.input_tokens = 0
        self.output_tokens = 0
        self.error: SessionErrorData | None = None
        self.last_activity = time.monotonic()
        # Inactivity only counts while a model call is open: the CLI's own back-off between
        # retries of a failed call is silence we must not mistake for a stalled provider.
        self.in_call = True

    def on_event(self, event: Any) -> None:
        self.last_activity = time.monotonic()
        kind = event.type
        data = event.data
        if kind == SessionEventType.MODEL_CALL_START:
            self.in_call = True
        elif kind in (SessionEventType.MODEL_CALL_FAILURE, SessionEventType.MODEL_CALL_FINISHED):
            self.in_call = False
        if kind in (
            SessionEventType.ASSISTANT_TURN_RETRY,
            SessionEventType.ASSISTANT_MESSAGE_START,
        ):
            if self.buffer:
                self.buffer.clear()
                self.callbacks.on_reset()
        elif kind == SessionEventType.ASSISTANT_MESSAGE_DELTA and isinstance(
            data, AssistantMessageDeltaData
        ):
            if data.parent_tool_call_id is None and data.delta_content:
                self.buffer.append(data.delta_content)
                self.callbacks.on_delta(data.delta_content)
        elif kind == SessionEventType.ASSISTANT_USAGE and isinstance(data, AssistantUsageData):
            self.input_tokens += data.input_tokens or 0
            self.output_tokens += data.output_tokens or 0
            self.callbacks.on_usage(self.input_tokens, self.output_tokens)
        elif kind == SessionEventType.SESSION_ERROR and isinstance(data, SessionErrorData):
            self.error = data

    def result(self, task: asyncio.Task[Any]) -> TurnResult:
        exc = task.exception()
        if exc is not None:
            raise self._provider_error(exc) from exc
        event = task.result()
        text = ""
        if event is not None and isinstance(event.data, AssistantMessageData):
            text = event.data.content or ""
        text = text or "".join(self.buffer)
        if not text.strip():
            raise ProviderError("the model returned an empty answer", transient=True)
        return TurnResult(text, self.input_tokens, self.output_tokens)

    def _provider_error(self, exc: BaseException) -> EngineError:
        status = getattr(self.error, "status_code", None) if self.error else None
        detail = self.error.message if self.error else str(exc)
        detail = detail.removeprefix("Session error: ")
        if isinstance(status, int) and 400 <= status < 500 and status not in (408, 409, 429):
            return ProviderError(
                f"the model provider rejected the request (HTTP {status}): {detail}",
                transient=False,
                status=status,
            )
        if isinstance(status, int):
            return ProviderError(
                f"the model provider failed (HTTP {status}): {detail}",
                transient=True,
                status=status,
            )
        return ProviderError(f"the model provider could not be reached: {detail}", transient=True)
