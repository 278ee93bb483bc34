"""The skill server: publishes the source's skills to the shared folder and serves the API.

Imports nothing of the agent, the site or the Copilot SDK: this container stays small.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import UploadFile

from blogpod import __version__
from blogpod.auth import bearer_guard
from blogpod.config import load_settings
from blogpod.logs import configure_logging
from blogpod.problems import Problem, install_problem_handlers
from blogpod.skills.catalog import Catalog, PublishedCatalog
from blogpod.skills.metrics import make_registry
from blogpod.skills.model import SkillError
from blogpod.skills.publisher import Publisher
from blogpod.skills.schemas import (
    Health,
    SkillDetail,
    SkillSummary,
    SyncOut,
    ValidationReport,
    VersionSeenOut,
    problem_responses,
)
from blogpod.skills.settings import SkillsSettings
from blogpod.skills.source import SourceUnavailable
from blogpod.skills.upload import UploadRejected, skill_from_upload
from blogpod.skills.validator import validate_skill
from blogpod.skills.watcher import SourceWatcher

log = logging.getLogger(__name__)

SkillName = Annotated[
    str,
    PathParam(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
        description="A skill name: lowercase letters, digits and '-', 1..64 characters.",
    ),
]
#: Room for multipart headers and boundaries on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A SKILL.md, a flat <name>.md or a zip of a skill "
                            "folder.",
                        }
                    },
                }
            }
        },
    }
}


def create_app(settings: SkillsSettings) -> FastAPI:
    """Build the app; the watcher starts with the app's lifespan and stops with it."""
    publisher = Publisher(
        settings.skills_source,
        settings.skills_shared,
        settings.limits,
        settings.skills_snapshots_to_keep,
    )
    watcher = SourceWatcher(
        settings.skills_source,
        lambda reason: publisher.sync(),
        settings.skills_resync_interval,
    )
    registry = make_registry(publisher, watcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(publisher.sync)
        except SkillError as exc:
            log.error("first skill sync failed; retrying in the background: %s", exc)
        except Exception:  # never keep the server from starting: the resync retries
            log.exception("first skill sync failed; retrying in the background")
        watcher.start()
        try:
            yield
        finally:
            await run_in_threadpool(watcher.stop)

    app = FastAPI(
        title="blogpod skill server",
        version=__version__,
        description="Validates Agent Skills and publishes them as snapshots for the agent.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.state.publisher = publisher
    app.state.watcher = watcher

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses=problem_responses(503))
    def readyz() -> Health:
        """Ready once a snapshot is published (by this process or adopted from disk)."""
        current = publisher.current
        if current is None:
            raise Problem(503, "Not Ready", "no skill snapshot has been published yet")
        return Health(status="ready", snapshot=current.catalog.snapshot)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/api/v1/skills",
        response_model=list[SkillSummary],
        tags=["skills"],
        responses=problem_responses(503),
    )
    def list_skills() -> list[SkillSummary]:
        """The live skills (the ones a post can use). Never-valid source skills are in the
        catalog's ``rejected`` findings and at ``GET /api/v1/skills/{name}``."""
        return [
            SkillSummary(
                name=e.name,
                description=e.description,
                version=e.version,
                status=e.status,
                findings_count=len(e.findings),
                findings=e.findings,
            )
            for e in sorted(_live(publisher).catalog.skills, key=lambda e: e.name)
        ]

    @app.get(
        "/api/v1/skills/{name}",
        response_model=SkillDetail,
        tags=["skills"],
        responses=problem_responses(404, 422, 503),
    )
    def get_skill(name: SkillName) -> SkillDetail:
        """Metadata, body, files, findings and the versions seen since the server started."""
        live = _live(publisher)
        history = [
            VersionSeenOut(
                version=v.version,
                status=v.status,
                seen_at=v.seen_at,
                errors=v.errors,
            )
            for v in list(publisher.history.get(name, ()))
        ]
        entry = live.catalog.get(name)
        if entry is None:
            findings = [f for f in live.catalog.rejected if f.skill == name]
            if not findings:
                raise _unknown_skill(name, live)
            return SkillDetail(name=name, status="rejected", findings=findings, history=history)
        return SkillDetail(
            **entry.model_dump(exclude={"findings", "files"}),
            files=entry.files,
            findings=entry.findings,
            body=_read_body(publisher, name),
            history=history,
        )

    @app.get(
        "/api/v1/skills/{name}/raw",
        response_class=PlainTextResponse,
        tags=["skills"],
        responses={200: {"content": {"text/markdown": {}}}, **problem_responses(404, 422, 503)},
    )
    def get_raw(name: SkillName) -> PlainTextResponse:
        """The live SKILL.md, front matter included."""
        live = _live(publisher)
        if live.catalog.get(name) is None:
            raise _unknown_skill(name, live)
        return PlainTextResponse(
            _read_body(publisher, name), media_type="text/markdown; charset=utf-8"
        )

    @app.get(
        "/api/v1/catalog", response_model=Catalog, tags=["skills"], responses=problem_responses(503)
    )
    def get_catalog() -> Catalog:
        """The live snapshot's catalog.json, as the agent reads it."""
        return _live(publisher).catalog

    @app.post(
        "/api/v1/skills:validate",
        response_model=ValidationReport,
        tags=["skills"],
        openapi_extra=_UPLOAD_DOC,
        responses=problem_responses(400, 413, 415, 422),
    )
    async def validate_upload(request: Request) -> ValidationReport:
        """Check an uploaded skill without publishing or storing it."""
        body = await _read_capped(request, settings.skills_max_upload_bytes + _MULTIPART_OVERHEAD)
        filename, data = await _single_file(request, body)
        if len(data) > settings.skills_max_upload_bytes:
            raise _too_large(settings.skills_max_upload_bytes)
        try:
            source = await run_in_threadpool(skill_from_upload, filename, data, settings.limits)
        except UploadRejected as exc:
            raise Problem(exc.status, exc.title, exc.detail) from exc
        result = validate_skill(source, settings.limits)
        return ValidationReport(
            valid=result.ok,
            name=source.name,
            version=source.version,
            files=source.file_list(),
            findings=result.findings,
        )

    @app.post(
        "/api/v1/sync",
        response_model=SyncOut,
        tags=["skills"],
        dependencies=[Depends(bearer_guard(settings.api_token))],
        responses=problem_responses(401, 503),
    )
    async def sync() -> SyncOut:
        """Rescan the source now (the watcher normally does this within a second)."""
        try:
            result = await run_in_threadpool(publisher.sync)
        except SourceUnavailable as exc:
            raise Problem(503, "Source Unavailable", str(exc)) from exc
        except OSError as exc:  # the shared folder failed us; the live snapshot is untouched
            log.exception("publishing failed")
            raise Problem(503, "Publish Failed", f"could not publish a snapshot: {exc}") from exc
        return SyncOut(**vars(result))

    return app


def _live(publisher: Publisher) -> PublishedCatalog:
    current = publisher.current
    if current is None:
        raise Problem(503, "Not Ready", "no skill snapshot has been published yet")
    return current


def _read_body(publisher: Publisher, name: str) -> str:
    """Read from the newest snapshot; retry once if a concurrent publish just collected ours."""
    for _ in range(2):
        try:
            return _live(publisher).read_skill_body(name)
        except FileNotFoundError:
            continue
    raise Problem(503, "Snapshot Changed", "the snapshot changed while reading; try again")


def _unknown_skill(name: str, live: PublishedCatalog) -> Problem:
    return Problem(
        404,
        "Skill Not Found",
        f"no skill named {name!r}",
        kind="skill-not-found",
        available=live.catalog.names(),
    )


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Upload Too Large",
        f"uploads are limited to {limit} bytes (BLOGPOD_SKILLS_MAX_UPLOAD_BYTES)",
    )


async def _read_capped(request: Request, cap: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``cap`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap - _MULTIPART_OVERHEAD)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _too_large(cap - _MULTIPART_OVERHEAD)
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _single_file(request: Request, body: bytes) -> tuple[str | None, bytes]:
    """The one file of a multipart body (field ``file``), parsed from bytes already capped."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Problem(
            415,
            "Unsupported Media Type",
            "send the skill as multipart/form-data with a field named 'file'",
        )
    capped = Request(request.scope, receive=_replay(body))
    try:
        form = await capped.form(max_files=1, max_fields=5)
    except Exception as exc:  # malformed multipart: the parser's own error types vary
        raise Problem(400, "Bad Upload", f"unreadable multipart body: {exc}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(400, "Bad Upload", "the multipart body has no file field named 'file'")
        return upload.filename, await upload.read()
    finally:
        await form.close()


def run() -> int:
    """``blogpod serve skills``: run the skill server until SIGTERM."""
    settings = load_settings(SkillsSettings)
    configure_logging("skills", settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except OSError as exc:
        log.error("cannot start the skill server: %s (check BLOGPOD_SKILLS_SHARED)", exc)
        return 2
    uvicorn.run(
        app,
        host=settings.bind,
        port=settings.skills_port,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )
    return 0
