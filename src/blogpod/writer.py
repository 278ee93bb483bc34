"""``blogpod write "topic"``: ask the Pod for a post through its public API and follow it.

Only the web front end's address is needed (the same path a browser takes): the job is
submitted with ``POST /api/v1/posts`` and followed on its Server-Sent Events stream,
reconnecting with ``Last-Event-ID`` if the connection drops. The exit code says whether
the post was published, so scripts (and ``blogpod up --write-first-post``) can rely on it.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import click
import httpx
from httpx_sse import SSEError, connect_sse

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
#: Reconnections to the event stream before giving up on following the job.
MAX_RECONNECTS = 20

EXIT_PUBLISHED = 0
EXIT_NOT_PUBLISHED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_WORD = re.compile(r"\w[\w'\u2019-]*")


class WriteError(Exception):
    """The request could not be made or was refused; the message says why."""


@dataclass
class Progress:
    """What is known about the job so far, as its events arrive."""

    job: dict[str, Any]
    status: str = "queued"
    text: str = ""
    post: dict[str, Any] | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> int:
        return len(_WORD.findall(self.text))


def _problem_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}: {resp.text[:300]}"
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title")
        if detail:
            return f"HTTP {resp.status_code}: {detail}"
    return f"HTTP {resp.status_code}: {json.dumps(body)[:300]}"


def submit(client: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/v1/posts``; returns the queued job."""
    try:
        resp = client.post("/api/v1/posts", json=payload)
    except httpx.TransportError as exc:
        raise WriteError(
            f"cannot reach blogpod at {client.base_url}: {exc} (is the Pod running? `blogpod up`)"
        ) from exc
    if resp.status_code != 202:
        raise WriteError(f"the post was refused: {_problem_message(resp)}")
    job: dict[str, Any] = resp.json()
    return job


def _apply(progress: Progress, event: str, data: dict[str, Any]) -> None:
    if event == "status":
        progress.status = str(data.get("status", progress.status))
        if progress.status == "running":
            progress.text = ""  # every attempt writes the draft anew (architecture.md)
    elif event == "delta":
        progress.text += str(data.get("text", ""))
    elif event == "usage":
        progress.usage = data
    elif event == "published":
        progress.post = data
    elif event == "error":
        progress.error = str(data.get("message", "the job failed"))


def follow(
    client: httpx.Client,
    job: dict[str, Any],
    on_event: Callable[[Progress, str], None] | None = None,
) -> Progress:
    """Read the job's events until its final status, resuming after a dropped connection."""
    progress = Progress(job=job, status=str(job.get("status", "queued")))
    events_url = str(job.get("events_url") or f"/api/v1/jobs/{job['id']}/events")
    last_id: str | None = None
    for attempt in range(MAX_RECONNECTS + 1):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with connect_sse(client, "GET", events_url, headers=headers) as source:
                if source.response.status_code != 200:
                    raise WriteError(
                        f"cannot follow job {job['id']}: {_problem_message(source.response)}"
                    )
                for sse in source.iter_sse():
                    if sse.id:
                        last_id = sse.id
                    data = json.loads(sse.data) if sse.data else {}
                    _apply(progress, sse.event, data if isinstance(data, dict) else {})
                    if on_event is not None:
                        on_event(progress, sse.event)
                    if progress.status in FINAL_STATES and sse.event == "status":
                        break
        except (httpx.TransportError, SSEError):
            pass
        if progress.status in FINAL_STATES:
            break
        time.sleep(min(0.2 * (attempt + 1), 2.0))
    # The job record is the source of truth (the stream may have ended early).
    try:
        resp = client.get(f"/api/v1/jobs/{job['id']}")
        if resp.status_code == 200:
            final = resp.json()
            progress.job = final
            progress.status = str(final.get("status", progress.status))
            progress.post = final.get("post") or progress.post
            progress.error = final.get("error") or progress.error
    except httpx.TransportError:
        pass
    return progress


def post_url(base_url: str, post: dict[str, Any] | None) -> str | None:
    """The absolute URL of a published post (the API gives a site-relative one)."""
    if not post or not post.get("url"):
        return None
    return urljoin(base_url.rstrip("/") + "/", str(post["url"]))


def build_payload(
    topic: str,
    skill: str | None = None,
    audience: str | None = None,
    tone: str | None = None,
    length: str | None = None,
    keywords: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"topic": topic}
    for key, value in (
        ("skill", skill),
        ("audience", audience),
        ("tone", tone),
        ("length", length),
    ):
        if value:
            payload[key] = value
    words = [w.strip() for w in (keywords or "").split(",") if w.strip()]
    if words:
        payload["keywords"] = words
    return payload


def api_client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # No read timeout: an event stream may be quiet between heartbeats.
    timeout = httpx.Timeout(30.0, read=None)
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)


class _LiveLine:
    """Progress on one line when the output is a terminal, else a line at each change."""

    def __init__(self, echo: Callable[[str], None], tty: bool) -> None:
        self.echo = echo
        self.tty = tty
        self.last_status = ""
        self.last_words = -1

    def __call__(self, progress: Progress, event: str) -> None:
        words = progress.words
        if self.tty:
            if event in ("delta", "status"):
                click.echo(f"\r  {progress.status}: {words} words ", nl=False)
            return
        if progress.status != self.last_status:
            self.echo(f"status: {progress.status} ({words} words)")
            self.last_status = progress.status
        elif words // 100 > self.last_words // 100:
            self.echo(f"  {words} words written")
        self.last_words = words

    def done(self) -> None:
        if self.tty:
            click.echo("")


def write_post(
    url: str,
    payload: dict[str, Any],
    *,
    token: str | None = None,
    wait: bool = True,
    echo: Callable[[str], None] = click.echo,
    tty: bool = False,
) -> int:
    """Submit and (optionally) follow a post; print its URL; return the exit code."""
    with api_client(url, token) as client:
        try:
            job = submit(client, payload)
        except WriteError as exc:
            echo(f"blogpod write: {exc}")
            return EXIT_ERROR
        echo(f"job {job['id']} {job.get('status', 'queued')} (skill {job.get('skill')})")
        if not wait:
            echo(f"follow it: {urljoin(url.rstrip('/') + '/', str(job.get('events_url', '')))}")
            return EXIT_PUBLISHED
        live = _LiveLine(echo, tty)
        try:
            progress = follow(client, job, live)
        except WriteError as exc:
            live.done()
            echo(f"blogpod write: {exc}")
            return EXIT_ERROR
        except KeyboardInterrupt:
            live.done()
            echo(f"stopped following; job {job['id']} goes on (GET /api/v1/jobs/{job['id']})")
            return EXIT_INTERRUPTED
        live.done()
    link = post_url(url, progress.post)
    draft = " (draft quality: written by the local model)" if progress.job.get("draft") else ""
    if progress.status == "succeeded" and link:
        echo(f"published{draft}: {link} ({progress.words} words)")
        return EXIT_PUBLISHED
    reason = progress.error or "no post was published"
    echo(f"not published: job {job['id']} {progress.status}: {reason}")
    return EXIT_NOT_PUBLISHED


@click.command()
@click.argument("topic")
@click.option("--skill", help="Skill to follow (default: the agent's default skill).")
@click.option("--audience", help="Who the post is for.")
@click.option("--tone", help="e.g. friendly, professional.")
@click.option("--length", help="e.g. short, medium, long.")
@click.option("--keywords", help="Comma-separated words the post should use.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Follow the job until it ends (exit 0 only if published), or return once queued.",
)
@click.option(
    "--url",
    default="http://127.0.0.1:8080",
    show_default=True,
    envvar="BLOGPOD_URL",
    help="The Pod's web address.",
)
@click.option("--token", envvar="BLOGPOD_API_TOKEN", help="Bearer token, if the Pod requires one.")
def write(
    topic: str,
    skill: str | None,
    audience: str | None,
    tone: str | None,
    length: str | None,
    keywords: str | None,
    wait: bool,
    url: str,
    token: str | None,
) -> None:
    """Write a post about TOPIC through the Pod's API and print its URL when published.

    Exit code: 0 published (or queued, with --no-wait), 1 not published, 2 refused or
    unreachable, 130 interrupted (the job itself goes on).
    """
    if not topic.strip():
        raise click.BadParameter("the topic is empty", param_hint="TOPIC")
    payload = build_payload(topic, skill, audience, tone, length, keywords)
    code = write_post(url, payload, token=token, wait=wait, tty=sys.stdout.isatty())
    sys.exit(code)
