"""The studio in a real headless Chromium, against the whole Pod (`blogpod up`).

Journey: open the studio, submit a topic, watch the text stream in, follow the link to the
published post, find the post in the index and in the feed. A screenshot of each page goes
to the test's artifacts folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.pod.up_process import RunningPod, blogpod_up
from tests.support.scripted_provider import ScriptedProvider

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ACTIVE_ELEMENT = "() => document.activeElement.id || document.activeElement.textContent"
TOPIC = "Why sidecars share a Pod's loopback"

#: Records every change of the preview with the status shown at that moment, so the test
#: can tell afterwards (logic, not timing) whether text appeared while the job was running.
RECORD_PREVIEW = """
() => {
  window.__previewLog = [];
  const preview = document.getElementById("preview");
  const status = document.getElementById("job-status");
  new MutationObserver(() => {
    window.__previewLog.push({status: status.textContent, chars: preview.textContent.length});
  }).observe(preview, {childList: true, subtree: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def provider() -> Iterator[ScriptedProvider]:
    # Paced so the post takes a few seconds to stream: there is something to watch.
    with ScriptedProvider.running(tokens=160, tokens_per_s=40) as running:
        yield running


@pytest.fixture(scope="module")
def pod(
    provider: ScriptedProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPod]:
    with blogpod_up(tmp_path_factory.mktemp("pod") / "data", provider.base_url) as running:
        yield running


def _page(browser: Browser, **context: Any) -> tuple[Page, list[str]]:
    page = browser.new_context(**context).new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if _is_problem(m) else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
    )
    return page, problems


def _is_problem(message: ConsoleMessage) -> bool:
    # A CSP violation or a script error shows up as a console error.
    return message.type == "error"


def test_write_a_post_in_the_studio(pod: RunningPod, browser: Browser, artifacts_dir: Path) -> None:
    page, problems = _page(browser, viewport={"width": 1280, "height": 900})
    page.goto(f"{pod.url}/studio/")
    page.wait_for_selector("#skill option[value='blog-writer']", state="attached")
    page.select_option("#skill", "blog-writer")
    assert page.inner_text("#skill-description").strip() != ""
    page.fill("#topic", TOPIC)
    page.fill("#audience", "platform engineers")
    page.select_option("#tone", "friendly")
    page.select_option("#length", "short")
    page.fill("#keywords", "kubernetes, sidecar")
    page.screenshot(path=str(artifacts_dir / "01-studio-form.png"), full_page=True)

    page.evaluate("() => { window.__formReady = true; }")
    page.click("#submit")
    page.wait_for_selector("#job:not([hidden])")
    page.evaluate(RECORD_PREVIEW)
    page.wait_for_function(
        "() => document.getElementById('preview').textContent.length > 40", timeout=120_000
    )
    page.screenshot(path=str(artifacts_dir / "02-studio-streaming.png"), full_page=True)
    page.wait_for_selector("#job-published:not([hidden])", timeout=180_000)
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'succeeded'",
        timeout=60_000,
    )
    page.screenshot(path=str(artifacts_dir / "03-studio-published.png"), full_page=True)

    log = page.evaluate("() => window.__previewLog")
    final_chars = len(page.inner_text("#preview"))
    partial_while_running = [
        e for e in log if e["status"] == "running" and 0 < e["chars"] < final_chars
    ]
    assert len(partial_while_running) >= 2, log  # the text grew in steps while running
    words = int(page.inner_text("#job-words").split()[0])
    assert words > 50
    assert page.inner_text("#job-skill").startswith("skill blog-writer @ ")
    assert page.is_hidden("#job-draft")  # a remote model: not a draft
    assert page.is_hidden("#cancel")  # nothing left to cancel
    assert "Why sidecars share" in page.inner_text("#preview h1")

    link = page.locator("#job-link")
    title = link.inner_text()
    link.click()
    page.wait_for_load_state()
    assert "/posts/" in page.url
    assert TOPIC in page.inner_text("h1")
    page.screenshot(path=str(artifacts_dir / "04-post.png"), full_page=True)

    page.goto(f"{pod.url}/")
    assert page.locator(".post-list a", has_text=title).count() == 1
    page.screenshot(path=str(artifacts_dir / "05-index.png"), full_page=True)
    page.locator(".post-list a", has_text=title).click()
    page.wait_for_load_state()
    assert "/posts/" in page.url

    feed = page.goto(f"{pod.url}/feed.xml")
    assert feed is not None
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert title in feed.text()
    page.screenshot(path=str(artifacts_dir / "06-feed.png"), full_page=True)

    page.goto(f"{pod.url}/studio/#jobs")
    row = page.locator("#jobs-table tbody tr", has_text=TOPIC)
    row.wait_for()
    row_text = row.inner_text()
    assert "succeeded" in row_text and "blog-writer @ " in row_text
    assert "scripted-model" in row_text and " out" in row_text
    page.screenshot(path=str(artifacts_dir / "07-jobs.png"), full_page=True)
    # A finished job reopens from the list: its stream is replayed into the preview.
    row.locator("a", has_text=TOPIC).click()
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'succeeded'"
        " && document.getElementById('preview').textContent.length > 200",
        timeout=60_000,
    )
    assert page.inner_text("#job-link") == title

    page.goto(f"{pod.url}/studio/#skills")
    page.locator("#skills-list li h2", has_text="blog-writer").wait_for()
    assert "version " in page.inner_text("#skills-list")
    page.screenshot(path=str(artifacts_dir / "08-skills.png"), full_page=True)
    assert not problems, problems


def test_studio_on_a_phone_with_the_keyboard(
    pod: RunningPod, browser: Browser, artifacts_dir: Path
) -> None:
    page, problems = _page(
        browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page.goto(f"{pod.url}/studio/")
    page.wait_for_selector("#skill option[value='blog-writer']", state="attached")
    # Keyboard only: tab to the topic, type, submit with Enter from a text field.
    page.keyboard.press("Tab")  # skip link
    assert page.evaluate("() => document.activeElement.className") == "skip"
    focus_order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focus_order.append(
            page.evaluate("() => document.activeElement.id || document.activeElement.textContent")
        )
    assert "topic" in focus_order and "skill" in focus_order
    page.focus("#audience")
    page.keyboard.type("phone readers")
    page.focus("#topic")
    page.keyboard.type("Reading on a small screen")
    page.focus("#keywords")
    page.keyboard.press("Enter")
    page.wait_for_selector("#job-published:not([hidden])", timeout=180_000)
    # Nothing is wider than the screen.
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390
    page.screenshot(path=str(artifacts_dir / "phone-studio.png"), full_page=True)
    page.goto(f"{pod.url}/studio/#jobs")
    page.locator("#jobs-table tbody tr").first.wait_for()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "phone-jobs.png"), full_page=True)
    assert not problems, problems


def test_untrusted_text_is_never_html(pod: RunningPod, browser: Browser) -> None:
    """The preview renderer builds DOM nodes: markup in the model's text stays text."""
    page, problems = _page(browser)
    page.goto(f"{pod.url}/studio/")
    result = page.evaluate(
        """async () => {
          const { renderMarkdown } = await import('./markdown.js');
          const box = document.createElement('div');
          box.append(renderMarkdown(
            '# <img src=x onerror="window.pwned=1">\\n\\n<script>window.pwned=1</script> ' +
            '[click](javascript:window.pwned=1) [ok](/posts/a/) **bold** `<b>code</b>`' +
            '\\n\\n- one\\n- two'));
          document.body.append(box);
          return {
            html: box.innerHTML,
            elements: [...box.querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
            hrefs: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            attributes: [...box.querySelectorAll('*')].flatMap((e) => e.getAttributeNames()),
          };
        }"""
    )
    assert set(result["elements"]) <= {"h1", "p", "a", "strong", "code", "ul", "li"}, result
    assert result["hrefs"] == ["/posts/a/"], result
    assert set(result["attributes"]) <= {"href", "rel"}, result
    assert "&lt;img" in result["html"] and "&lt;script&gt;" in result["html"]
    assert "<strong>bold</strong>" in result["html"] and "<li>two</li>" in result["html"]
    assert page.evaluate("() => window.pwned") is None
    assert (
        httpx.get(f"{pod.url}/studio/markdown.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert not problems, problems


def test_cancel_a_post_while_it_is_written(
    pod: RunningPod, provider: ScriptedProvider, browser: Browser, artifacts_dir: Path
) -> None:
    # This reply would take minutes: the only way it ends soon is the Cancel button.
    provider.script({"kind": "slow", "first_token_ms": 0, "tokens_per_s": 2, "times": 5})
    page, problems = _page(browser)
    page.goto(f"{pod.url}/studio/")
    page.fill("#topic", "A post nobody will read")
    page.click("#submit")
    page.wait_for_function(
        "() => document.getElementById('preview').textContent.length > 0", timeout=120_000
    )
    assert page.inner_text("#job-status") == "running"
    page.click("#cancel")
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'cancelled'",
        timeout=60_000,
    )
    page.screenshot(path=str(artifacts_dir / "cancelled.png"), full_page=True)
    assert page.is_hidden("#job-published")
    assert page.is_hidden("#cancel")
    job_id = page.evaluate("() => decodeURIComponent(location.hash.split('/')[1])")
    job = httpx.get(f"{pod.url}/api/v1/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["post"] is None
    provider.reset()
    assert not problems, problems


def test_a_retried_attempt_starts_the_preview_anew(
    pod: RunningPod, provider: ScriptedProvider, browser: Browser
) -> None:
    # The first reply breaks off halfway; the agent tries again and the text comes anew.
    provider.script({"kind": "drop", "after": 60})
    page, problems = _page(browser)
    page.goto(f"{pod.url}/studio/")
    page.fill("#topic", "Second attempts")
    page.click("#submit")
    page.wait_for_selector("#job:not([hidden])")
    page.evaluate(RECORD_PREVIEW)
    page.wait_for_selector("#job-published:not([hidden])", timeout=180_000)
    page.wait_for_function(
        "() => document.getElementById('job-status').textContent === 'succeeded'",
        timeout=60_000,
    )
    log = page.evaluate("() => window.__previewLog")
    chars = [entry["chars"] for entry in log]
    assert any(later < earlier for earlier, later in pairwise(chars)), chars
    assert page.locator("#preview h1").count() == 1  # one title: the dropped draft is gone
    behaviours = [r.get("behaviour", {}).get("kind") for r in provider.requests()]
    provider.reset()
    assert "drop" in behaviours, behaviours
    assert not problems, problems
