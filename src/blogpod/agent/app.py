"""The agent's HTTP API: jobs, their live events, and the published posts.

``create_app(settings)`` builds the FastAPI app; its lifespan opens the job store, starts the
Copilot CLI and the worker pool, and requeues jobs a previous run left behind.
``run()`` is ``blogpod serve agent``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from blogpod.agent.engine import CopilotEngine, EngineUnavailable
from blogpod.agent.jobs import JobManager, QueueFull
from blogpod.agent.metrics import AgentMetrics
from blogpod.agent.publishing import Site
from blogpod.agent.schemas import Job, PostRequest
from blogpod.agent.settings import AgentSettings
from blogpod.agent.sse import Event, EventStream
from blogpod.agent.store import FINAL_STATUSES, JobNotFound, JobStore
from blogpod.auth import bearer_guard
from blogpod.config import ConfigError, load_settings
from blogpod.logs import configure_logging
from blogpod.problems import Problem, install_problem_handlers
from blogpod.site.errors import InvalidSlug, PostNotFound, SiteError
from blogpod.site.models import PostDetail, PostSummary
from blogpod.site.publisher import SitePublisher
from blogpod.skills.catalog import CatalogUnavailable, load_current

log = logging.getLogger(__name__)


def _task_counter(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """Counts the tasks of the agent's own loop, which the gauge's callback captures."""
    return lambda: float(len(asyncio.all_tasks(loop)))


class AgentState:
    """Everything the routes share, built in the lifespan."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.metrics = AgentMetrics()
        self.store = JobStore(settings.state_dir / "jobs.sqlite3")
        self.engine = CopilotEngine(settings)
        self.site = Site(SitePublisher(settings.site_dir, title=settings.site_title))
        self.jobs = JobManager(
            settings, self.store, self.engine, self.site.publish_job, self.metrics
        )
        self.metrics.bind_live(
            sessions=lambda: float(self.engine.active_sessions),
            restarts=lambda: float(self.engine.restarts),
            queue=lambda: float(self.jobs.queue_depth()),
            tasks=_task_counter(asyncio.get_running_loop()),
        )


def create_app(settings: AgentSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AgentState(settings)
        app.state.agent = state
        try:
            await state.engine.start()
        except EngineUnavailable as exc:
            log.error("the Copilot engine is unavailable: %s", exc)
        await state.jobs.start()
        log.info(
            "agent ready",
            extra={"provider": settings.provider_name, "model": settings.effective_model},
        )
        try:
            yield
        finally:
            await state.jobs.stop()
            await state.engine.stop()
            state.store.close()

    app = FastAPI(title="blogpod agent", version="1", lifespan=lifespan)
    install_problem_handlers(app)
    _add_routes(app, settings)
    return app


def _state(request: Request) -> AgentState:
    state: AgentState = request.app.state.agent
    return state


State = Annotated[AgentState, Depends(_state)]


def _add_routes(app: FastAPI, settings: AgentSettings) -> None:
    write_guard = [Depends(bearer_guard(settings.api_token))]

    @app.post("/api/v1/posts", status_code=202, dependencies=write_guard)
    async def create_post(body: PostRequest, state: State, response: Response) -> Job:
        skill = body.skill or settings.default_skill
        await asyncio.to_thread(_check_skill, settings, skill)
        fields = {
            "topic": body.topic,
            "skill": skill,
            "audience": body.audience,
            "tone": body.tone,
            "length": body.length,
            "keywords": body.keywords,
            "provider": settings.provider_name,
            "model": settings.effective_model,
            "draft": settings.provider == "local",
        }
        try:
            row = await state.jobs.submit(fields)
        except QueueFull as exc:
            raise Problem(
                429,
                "Too Many Jobs",
                f"{settings.queue_size} jobs are already waiting; try again later",
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            ) from exc
        job = Job.from_row(row)
        response.headers["Location"] = f"/api/v1/jobs/{job.id}"
        return job

    @app.get("/api/v1/posts")
    async def list_posts(state: State) -> list[PostSummary]:
        try:
            return await state.site.list_posts()
        except SiteError as exc:
            raise Problem(503, "Site Unavailable", str(exc)) from exc

    @app.get("/api/v1/posts/{slug}")
    async def get_post(slug: str, state: State) -> PostDetail:
        try:
            return await state.site.get_post(slug)
        except (PostNotFound, InvalidSlug) as exc:
            raise Problem(404, "Post Not Found", str(exc)) from exc
        except SiteError as exc:
            raise Problem(503, "Site Unavailable", str(exc)) from exc

    @app.delete("/api/v1/posts/{slug}", status_code=204, dependencies=write_guard)
    async def delete_post(slug: str, state: State) -> Response:
        try:
            await state.site.unpublish(slug)
        except (PostNotFound, InvalidSlug) as exc:
            raise Problem(404, "Post Not Found", str(exc)) from exc
        except SiteError as exc:
            raise Problem(500, "Unpublish Failed", str(exc)) from exc
        return Response(status_code=204)

    @app.get("/api/v1/jobs")
    async def list_jobs(
        state: State,
        status: Annotated[
            str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[Job]:
        rows = await asyncio.to_thread(state.store.recent, limit, status)
        return [Job.from_row(r) for r in rows]

    @app.get("/api/v1/jobs/{job_id}")
    async def get_job(job_id: str, state: State) -> Job:
        return Job.from_row(await _job_row(state, job_id))

    @app.delete("/api/v1/jobs/{job_id}", dependencies=write_guard)
    async def cancel_job(job_id: str, state: State) -> Job:
        row = await _job_row(state, job_id)
        if row["status"] in FINAL_STATUSES:
            raise Problem(
                409,
                "Job Finished",
                f"job {job_id} is already {row['status']}",
                job_status=row["status"],
            )
        return Job.from_row(await state.jobs.cancel(job_id))

    @app.get(
        "/api/v1/jobs/{job_id}/events",
        response_class=EventStream,
        status_code=200,
        response_description="The job's events: status, delta, usage, published, error.",
    )
    async def job_events(
        job_id: str,
        state: State,
        _exists: Annotated[None, Depends(_require_job)],
        start: Annotated[int, Depends(_resume_point)],
    ) -> EventStream:
        return EventStream(_follow(state, job_id, start))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(state: State) -> Response:
        checks = await _readiness(state)
        ready = all(c == "ok" for c in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics(state: State) -> Response:
        await state.jobs.refresh_status_gauge()
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _check_skill(settings: AgentSettings, skill: str) -> None:
    try:
        published = load_current(settings.skills_shared)
    except CatalogUnavailable as exc:
        raise Problem(503, "No Skills Published", str(exc)) from exc
    if published.catalog.get(skill) is None:
        available = published.catalog.names()
        raise Problem(
            422,
            "Unknown Skill",
            f"no skill named '{skill}'; available: {', '.join(available) or '(none)'}",
            available=available,
        )


async def _job_row(state: AgentState, job_id: str) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(state.store.get, job_id)
    except JobNotFound as exc:
        raise Problem(404, "Job Not Found", f"no job with id {job_id}") from exc


async def _require_job(job_id: str, request: Request) -> None:
    """Dependencies run before the response starts, so an unknown job is a clean 404."""
    await _job_row(_state(request), job_id)


def _resume_point(
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Same as Last-Event-ID.")] = None,
) -> int:
    """The last event id the client has seen (0: none); a dependency, so errors come first."""
    header = last_event_id
    if header is not None and header.strip():
        try:
            return max(0, int(header.strip()))
        except ValueError as exc:
            raise Problem(400, "Bad Last-Event-ID", "Last-Event-ID must be an integer") from exc
    return after or 0


async def _follow(state: AgentState, job_id: str, last: int) -> AsyncGenerator[Event, None]:
    """Replay what the client has not seen, then follow live until the final status event."""
    heartbeat = state.settings.sse_heartbeat_s
    state.metrics.sse_streams.inc()
    try:
        while True:
            changed = state.jobs.signal(job_id)
            events = await asyncio.to_thread(state.store.events_after, job_id, last)
            for event in events:
                last = event.id
                yield Event(id=str(event.id), event=event.type, data=event.data)
                if event.type == "status" and event.data.get("status") in FINAL_STATUSES:
                    return
            if events:
                continue
            try:
                await asyncio.wait_for(changed.wait(), heartbeat)
            except TimeoutError:
                yield Event(comment="heartbeat")
    finally:
        state.metrics.sse_streams.dec()


async def _readiness(state: AgentState) -> dict[str, str]:
    checks: dict[str, str] = {}
    if await state.engine.ping():
        checks["copilot_cli"] = "ok"
    else:
        checks["copilot_cli"] = state.engine.last_error or "not running"
    try:
        await asyncio.to_thread(state.store.check_writable)
        checks["state"] = "ok"
    except Exception as exc:
        checks["state"] = f"not writable: {exc}"
    try:
        await asyncio.to_thread(load_current, state.settings.skills_shared)
        checks["skills"] = "ok"
    except CatalogUnavailable as exc:
        checks["skills"] = str(exc)
    return checks


def run() -> int:
    """``blogpod serve agent``: serve the agent API until stopped."""
    try:
        settings = load_settings(AgentSettings)
    except ConfigError as exc:
        print(f"blogpod agent: {exc}", file=sys.stderr)
        return 2
    configure_logging("agent", settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.bind,
        port=settings.agent_port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    return 0
