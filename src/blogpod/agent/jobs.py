"""Jobs: a bounded queue, a worker pool, timeouts, retries and the per-job event log.

Every state change of a job is written to the store first and then announced to SSE
subscribers, so a reader that reconnects (or an agent that restarts) sees the same history.
Jobs found ``running`` at start belonged to an agent that died: they are queued again, and the
attempt count caps how often one job may be tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from blogpod.agent.engine import (
    CliDied,
    CopilotEngine,
    EngineError,
    EngineUnavailable,
    TurnCallbacks,
    TurnResult,
)
from blogpod.agent.metrics import AgentMetrics
from blogpod.agent.prompts import JobBrief, skill_outline, system_message, user_prompt
from blogpod.agent.settings import AgentSettings
from blogpod.agent.store import FINAL_STATUSES, JobStore, StoredEvent, utc_now
from blogpod.logs import job_id_var
from blogpod.skills.catalog import CatalogUnavailable, load_current

log = logging.getLogger(__name__)

_DELTA_FLUSH_S = 0.1


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("the job queue is full")
        self.retry_after = retry_after


class JobFailed(Exception):
    """A job ends as failed with this user-readable message."""


#: Publishes (markdown, job row) and returns (slug, url, title); runs in a worker thread.
Publish = Callable[[str, dict[str, Any]], Awaitable[tuple[str, str, str]]]


class JobManager:
    def __init__(
        self,
        settings: AgentSettings,
        store: JobStore,
        engine: CopilotEngine,
        publish: Publish,
        metrics: AgentMetrics,
    ) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        self.publish = publish
        self.metrics = metrics
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancel_requested: set[str] = set()
        self._signals: dict[str, asyncio.Event] = {}
        self._emit_locks: dict[str, asyncio.Lock] = {}
        self._recent_durations: list[float] = []

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        stale = await asyncio.to_thread(self.store.ids_with_status, "running")
        for job_id in stale:
            log.warning("requeueing a job of a previous agent run", extra={"job_id": job_id})
            await asyncio.to_thread(self.store.update, job_id, status="queued")
            await self.emit(job_id, "status", {"status": "queued", "requeued": True})
        for job_id in await asyncio.to_thread(self.store.ids_with_status, "queued"):
            self._queue.put_nowait(job_id)
        self._workers = [
            asyncio.create_task(self._worker(), name=f"job-worker-{i}")
            for i in range(self.settings.max_concurrent_jobs)
        ]
        await self.refresh_status_gauge()

    async def stop(self) -> None:
        """Stop workers; jobs in flight stay ``running`` and are requeued by the next start."""
        for task in self._workers:
            task.cancel()
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._workers, *self._running.values(), return_exceptions=True)

    def queue_depth(self) -> int:
        return self._queue.qsize()

    # --- API operations ---------------------------------------------------------------------

    async def submit(self, fields: dict[str, Any]) -> dict[str, Any]:
        if self._queue.qsize() >= self.settings.queue_size:
            raise QueueFull(self._retry_after())
        row = await asyncio.to_thread(self.store.create, fields)
        await self.emit(row["id"], "status", {"status": "queued", "attempt": 0})
        self._queue.put_nowait(row["id"])
        await self.refresh_status_gauge()
        return row

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job; a finished job is returned unchanged."""
        row = await asyncio.to_thread(self.store.get, job_id)
        if row["status"] in FINAL_STATUSES:
            return row
        self._cancel_requested.add(job_id)
        task = self._running.get(job_id)
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=10)
        else:
            await self._finish(job_id, "cancelled", error="cancelled by the user")
        return await asyncio.to_thread(self.store.get, job_id)

    # --- events -----------------------------------------------------------------------------

    def signal(self, job_id: str) -> asyncio.Event:
        """An event set at the next change of the job's log (take it before reading)."""
        return self._signals.setdefault(job_id, asyncio.Event())

    async def emit(self, job_id: str, type_: str, data: dict[str, Any]) -> StoredEvent:
        lock = self._emit_locks.setdefault(job_id, asyncio.Lock())
        async with lock:
            event = await asyncio.to_thread(self.store.append_event, job_id, type_, data)
        waiting = self._signals.pop(job_id, None)
        if waiting is not None:
            waiting.set()
        return event

    async def refresh_status_gauge(self) -> None:
        counts = await asyncio.to_thread(self.store.count_by_status)
        for status, n in counts.items():
            self.metrics.jobs.labels(status).set(n)

    # --- workers ----------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            job_id = await self._queue.get()
            task = asyncio.create_task(self._run(job_id), name=f"job-{job_id}")
            self._running[job_id] = task
            try:
                await asyncio.wait({task})
            finally:
                self._running.pop(job_id, None)
                self._cancel_requested.discard(job_id)
                self._emit_locks.pop(job_id, None)

    async def _run(self, job_id: str) -> None:
        job_id_var.set(job_id)
        try:
            row = await asyncio.to_thread(self.store.get, job_id)
            if row["status"] != "queued":
                return  # cancelled while it waited
            await self._attempt_until_done(row)
        except asyncio.CancelledError:
            if job_id in self._cancel_requested:
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        self._finish(job_id, "cancelled", error="cancelled by the user")
                    )
                return
            raise  # agent shutdown: the job stays running and is requeued at the next start
        except Exception:
            log.exception("job crashed")
            await self._finish(job_id, "failed", error="internal error while writing the post")

    async def _attempt_until_done(self, row: dict[str, Any]) -> None:
        job_id = row["id"]
        while True:
            attempt = row["attempts"] + 1
            if attempt > self.settings.max_attempts:
                await self._finish(
                    job_id,
                    "failed",
                    error=f"gave up after {_attempts(row['attempts'])} (the agent or the "
                    "Copilot CLI stopped during each of them)",
                )
                return
            started = row["started_at"] or utc_now()
            claimed = await asyncio.to_thread(
                self.store.transition,
                job_id,
                ("queued", "running"),
                status="running",
                attempts=attempt,
                started_at=started,
            )
            if not claimed:
                return  # cancelled meanwhile
            await self.emit(job_id, "status", {"status": "running", "attempt": attempt})
            try:
                await self._write_and_publish(row)
                return
            except CliDied as exc:
                log.warning("copilot cli died during the job; retrying it", extra={"err": str(exc)})
                self.metrics.provider_errors.labels("cli_died").inc()
                row = await asyncio.to_thread(self.store.get, job_id)
            except JobFailed as exc:
                await self._finish(job_id, "failed", error=str(exc))
                return

    async def _write_and_publish(self, row: dict[str, Any]) -> None:
        job_id = row["id"]
        skill_md, version, metadata = self._read_skill(row["skill"])
        await asyncio.to_thread(self.store.update, job_id, skill_version=version)
        brief = JobBrief(row["topic"], row["audience"], row["tone"], row["length"], row["keywords"])
        # Only the small local model gets the skill's outline; larger ones shape the post.
        outline = skill_outline(metadata) if self.settings.provider == "local" else []
        begun = time.monotonic()
        result = await self._write(
            job_id, system_message(skill_md, row["skill"]), user_prompt(brief, outline)
        )
        written = time.monotonic()
        await asyncio.to_thread(
            self.store.update,
            job_id,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
        )
        self.metrics.tokens.labels("input").inc(result.input_tokens)
        self.metrics.tokens.labels("output").inc(result.output_tokens)
        await self.emit(
            job_id,
            "usage",
            {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
        )
        fresh = await asyncio.to_thread(self.store.get, job_id)
        slug, url, title = await self.publish(result.text, fresh)
        timings = {
            "write_s": round(written - begun, 3),
            "publish_s": round(time.monotonic() - written, 3),
        }
        await asyncio.to_thread(
            self.store.update,
            job_id,
            post_slug=slug,
            post_url=url,
            post_title=title,
            timings=timings,
        )
        await self.emit(job_id, "published", {"slug": slug, "url": url, "title": title})
        await self._finish(job_id, "succeeded")

    def _read_skill(self, name: str) -> tuple[str, str, dict[str, str]]:
        """The skill's SKILL.md, version and metadata, from the live snapshot."""
        try:
            published = load_current(self.settings.skills_shared)
        except CatalogUnavailable as exc:
            raise JobFailed(f"no skills are published yet ({exc})") from exc
        entry = published.catalog.get(name)
        if entry is None:
            raise JobFailed(
                f"the skill '{name}' is no longer published; available: "
                + ", ".join(published.catalog.names())
            )
        try:
            return published.read_skill_body(name), entry.version, entry.metadata
        except OSError as exc:
            raise JobFailed(f"the skill '{name}' could not be read: {exc}") from exc

    async def _write(self, job_id: str, system: str, prompt: str) -> TurnResult:
        """One turn, retried after transient provider failures (a bounded number of times)."""
        deadline = time.monotonic() + self.settings.job_timeout_s
        tries = self.settings.provider_retries + 1
        for try_no in range(1, tries + 1):
            stream = _DeltaStream(self, job_id)
            try:
                return await self.engine.write(
                    system,
                    prompt,
                    stream.callbacks(),
                    deadline=deadline,
                    inactivity_s=self.settings.inactivity_timeout_s,
                )
            except CliDied:
                raise
            except EngineUnavailable as exc:
                raise JobFailed(f"the writing engine is unavailable: {exc}") from exc
            except TimeoutError as exc:
                self.metrics.provider_errors.labels("timeout").inc()
                raise JobFailed(
                    f"the job did not finish within {self.settings.job_timeout_s:g} s"
                ) from exc
            except EngineError as exc:
                kind = type(exc).__name__
                self.metrics.provider_errors.labels(kind).inc()
                if not exc.transient or try_no == tries:
                    raise JobFailed(_sentence(str(exc), try_no)) from exc
                log.warning("transient provider failure; trying again", extra={"err": str(exc)})
                row = await asyncio.to_thread(self.store.get, job_id)
                await self.emit(job_id, "status", {"status": "running", "attempt": row["attempts"]})
            finally:
                await stream.close()
        raise AssertionError("unreachable")

    async def _finish(self, job_id: str, status: str, error: str | None = None) -> None:
        row = await asyncio.to_thread(self.store.get, job_id)
        if row["status"] in FINAL_STATUSES:
            return
        finished = utc_now()
        if error:
            error = error[:1].upper() + error[1:]
        changed = await asyncio.to_thread(
            self.store.transition,
            job_id,
            ("queued", "running"),
            status=status,
            finished_at=finished,
            error=error,
        )
        if not changed:
            return  # another path finished it first
        if error is not None:
            await self.emit(job_id, "error", {"message": error})
        await self.emit(job_id, "status", {"status": status, "attempt": row["attempts"]})
        self.metrics.jobs_finished.labels(status).inc()
        if row["started_at"]:
            seconds = _seconds_between(row["started_at"], finished)
            self.metrics.job_duration.labels(status).observe(seconds)
            self._recent_durations = [*self._recent_durations[-19:], seconds]
        log.info("job finished", extra={"status": status, "error": error})
        await self.refresh_status_gauge()

    def _retry_after(self) -> int:
        per_job = (
            sum(self._recent_durations) / len(self._recent_durations)
            if self._recent_durations
            else 30.0
        )
        waves = self._queue.qsize() / self.settings.max_concurrent_jobs
        return max(1, min(600, round(per_job * max(1.0, waves))))


class _DeltaStream:
    """Coalesces deltas into ``delta`` events every 100 ms; a reset restarts the draft.

    The first delta after a quiet spell is sent at once (a reader sees the first words as soon
    as the model writes them); what follows while the model keeps writing is batched.
    """

    def __init__(self, manager: JobManager, job_id: str) -> None:
        self.manager = manager
        self.job_id = job_id
        self.pending: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._chain: asyncio.Task[Any] | None = None

    def callbacks(self) -> TurnCallbacks:
        return TurnCallbacks(on_delta=self._on_delta, on_reset=self._on_reset, on_usage=_ignore)

    def _on_delta(self, text: str) -> None:
        self.pending.append(text)
        if self._task is None or self._task.done():
            self._schedule_flush()
            self._task = asyncio.create_task(self._flush_while_writing())

    def _on_reset(self) -> None:
        self.pending.clear()
        self._then(self._announce_reset)

    async def _announce_reset(self) -> None:
        row = await asyncio.to_thread(self.manager.store.get, self.job_id)
        await self.manager.emit(
            self.job_id,
            "status",
            {"status": "running", "attempt": row["attempts"], "restarted": True},
        )

    async def _flush_while_writing(self) -> None:
        """One flush a period until a period passes with nothing new."""
        while True:
            await asyncio.sleep(_DELTA_FLUSH_S)
            if not self.pending:
                return
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self.pending:
            return
        text = "".join(self.pending)
        self.pending.clear()

        async def send() -> None:
            await self.manager.emit(self.job_id, "delta", {"text": text})

        self._then(send)

    def _then(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run steps one after another so events keep the order they happened in."""
        previous = self._chain

        async def run() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await step()

        self._chain = asyncio.create_task(run())

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._schedule_flush()
        if self._chain is not None:
            await asyncio.gather(self._chain, return_exceptions=True)


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def _ignore(*_: Any) -> None:
    return None


def _sentence(message: str, tries: int) -> str:
    text = message[:1].upper() + message[1:]
    if tries > 1:
        text += f" (tried {tries} times)"
    return text


def _seconds_between(start: str, end: str) -> float:
    a = datetime.fromisoformat(start).astimezone(UTC)
    b = datetime.fromisoformat(end).astimezone(UTC)
    return max(0.0, (b - a).total_seconds())
