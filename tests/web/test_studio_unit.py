"""Studio behaviour for answers the real agent gives only in rare states (a draft from the
local model, a refused post): the real studio through real nginx, with the API answers
stubbed in the browser (a unit test of the UI; the real journey is test_studio_browser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from tests.web.conftest import Front

pytestmark = [pytest.mark.slow, pytest.mark.browser]

JOB = {
    "id": "job-1",
    "status": "queued",
    "topic": "Local drafts",
    "skill": "blog-writer",
    "skill_version": "0123456789abcdef",
    "provider": "local",
    "model": "qwen2.5-coder-1.5b-instruct",
    "draft": True,
    "usage": {"input_tokens": 0, "output_tokens": 0},
    "post": None,
    "error": None,
    "events_url": "/api/v1/jobs/job-1/events",
}


def _events(*events: tuple[str, dict[str, object]]) -> str:
    return "".join(
        f"id: {i}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
        for i, (name, data) in enumerate(events, 1)
    )


def test_draft_badge_and_published_link(
    front: Front, browser: Browser, artifacts_dir: Path
) -> None:
    page = browser.new_page()
    published = {"slug": "local-drafts", "url": "/posts/local-drafts/", "title": "Local drafts"}

    def api(route: Route) -> None:
        url = route.request.url
        if url.endswith("/api/v1/skills"):
            route.fulfill(json=[{"name": "blog-writer", "description": "Writes posts."}])
        elif url.endswith("/api/v1/posts"):
            route.fulfill(status=202, json=JOB)
        elif url.endswith("/events"):
            route.fulfill(
                headers={"Content-Type": "text/event-stream"},
                body=_events(
                    ("status", {"status": "running", "attempt": 1}),
                    ("delta", {"text": "# Local drafts\n\nWritten <b>here</b>, "}),
                    ("delta", {"text": "on this machine.\n\n```\ncode <i>x</i>\n```\n"}),
                    ("published", published),
                    ("status", {"status": "succeeded", "attempt": 1}),
                ),
            )
        elif url.endswith("/api/v1/jobs/job-1"):
            route.fulfill(json={**JOB, "status": "succeeded", "post": published})
        else:
            route.fulfill(status=404, json={"title": "Not Found", "status": 404})

    page.route("**/api/v1/**", api)
    page.goto(f"{front.url}/studio/")
    page.fill("#topic", "Local drafts")
    page.click("#submit")
    page.wait_for_selector("#job-published:not([hidden])")
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'succeeded'"
    )
    assert page.is_visible("#job-draft")
    assert page.get_attribute("#job-link", "href") == f"{front.url}/posts/local-drafts/"
    assert page.inner_text("#preview p") == "Written <b>here</b>, on this machine."
    assert page.inner_text("#preview pre code") == "code <i>x</i>"
    assert page.locator("#preview b, #preview i").count() == 0
    page.screenshot(path=str(artifacts_dir / "draft.png"), full_page=True)


def test_a_refused_post_shows_the_problem(front: Front, browser: Browser) -> None:
    page = browser.new_page()

    def api(route: Route) -> None:
        if route.request.url.endswith("/api/v1/posts"):
            route.fulfill(
                status=422,
                headers={"Content-Type": "application/problem+json"},
                body=json.dumps(
                    {"title": "Invalid Request", "status": 422, "detail": "no skill named 'x'"}
                ),
            )
        else:
            route.fulfill(json=[])

    page.route("**/api/v1/**", api)
    page.goto(f"{front.url}/studio/")
    page.click("#submit")  # no topic: refused in the page itself
    assert page.inner_text("#form-error") == "Please enter a topic."
    assert page.evaluate("() => document.activeElement.id") == "topic"
    page.fill("#topic", "Anything")
    page.click("#submit")
    page.wait_for_selector("#form-error:has-text('no skill named')")
    assert "HTTP 422" in page.inner_text("#form-error")
    assert page.is_hidden("#job")
