"""The scripted provider speaks the OpenAI chat wire format and obeys its script."""

from __future__ import annotations

import json
import sys

import httpx
import pytest

from tests.support.processes import ServiceProcess, blogpod_env, free_port
from tests.support.scripted_provider import ProviderControl, ScriptedProvider

BODY = {"model": "m", "messages": [{"role": "user", "content": "Topic: Tide pools"}]}


def _sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def test_streaming_reply_is_a_post_about_the_topic() -> None:
    with ScriptedProvider.running(tokens=30) as provider:
        body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
        resp = httpx.post(provider.base_url + "/chat/completions", json=body, timeout=10)
    assert resp.status_code == 200
    payloads = _sse_payloads(resp.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.startswith("# Tide pools")
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_non_streaming_reply_and_records() -> None:
    with ScriptedProvider.running() as provider:
        resp = httpx.post(
            provider.base_url + "/chat/completions",
            json=BODY,
            headers={"Authorization": "Bearer k"},
            timeout=10,
        )
        records = provider.requests()
    assert resp.json()["choices"][0]["message"]["content"].startswith("# Tide pools")
    assert len(records) == 1 and records[0]["has_api_key"] and records[0]["body"] == BODY


def test_scripted_faults_in_order() -> None:
    with ScriptedProvider.running(tokens=20) as provider:
        provider.script({"kind": "http500", "times": 2}, {"kind": "http400"}, {"kind": "drop"})
        url = provider.base_url + "/chat/completions"
        codes = [httpx.post(url, json=BODY, timeout=10).status_code for _ in range(3)]
        dropped = httpx.post(url, json={**BODY, "stream": True}, timeout=10)
        ok = httpx.post(url, json=BODY, timeout=10)
    assert codes == [500, 500, 400]
    assert "[DONE]" not in dropped.text and '"finish_reason": "stop"' not in dropped.text
    assert ok.status_code == 200


def test_hang_answers_nothing_until_the_client_leaves() -> None:
    with ScriptedProvider.running() as provider:
        provider.script({"kind": "hang"})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(provider.base_url + "/chat/completions", json=BODY, timeout=0.5)
        after = httpx.post(provider.base_url + "/chat/completions", json=BODY, timeout=10)
    assert after.status_code == 200


def test_bad_script_is_rejected() -> None:
    with ScriptedProvider.running() as provider, pytest.raises(ValueError, match="kind"):
        provider.script({"kind": "explode"})


def test_runs_as_a_process_with_a_control_api() -> None:
    port = free_port()
    proc = ServiceProcess(
        [sys.executable, "-m", "tests.support.scripted_provider", "--port", str(port),
         "--tokens", "12"],
        env=blogpod_env(),
    )  # fmt: skip
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/_control/health", timeout=30)
        control = ProviderControl(f"http://127.0.0.1:{port}/v1")
        control.script({"kind": "http500"})
        url = control.base_url + "/chat/completions"
        assert httpx.post(url, json=BODY, timeout=10).status_code == 500
        assert httpx.post(url, json=BODY, timeout=10).status_code == 200
        assert [r["behaviour"]["kind"] for r in control.requests()] == ["http500", "ok"]
        control.reset()
        assert control.requests() == []
        bad = httpx.post(control.url + "/_control/script", json={"script": [{"kind": "?"}]})
        assert bad.status_code == 400
    finally:
        proc.stop()
