"""End to end: the real local model writes a post through the whole Pod.

nginx -> agent -> Copilot SDK -> Copilot CLI (BYOK, provider `local`) -> `blogpod serve llm`
-> llama.cpp. Structure is checked, not wording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.conftest import LlmServer
from tests.llm.structure import post_shape
from tests.support.pod import local_pod

pytestmark = [pytest.mark.localmodel, pytest.mark.slow]


def local_provider_env(llm_port: int) -> dict[str, str]:
    """The Pod's settings when nothing is configured but the embedded model."""
    return {
        "BLOGPOD_PROVIDER": "local",
        "BLOGPOD_PROVIDER_BASE_URL": "",
        "BLOGPOD_PROVIDER_API_KEY": "",
        "BLOGPOD_MODEL": "",
        "BLOGPOD_LLM_PORT": str(llm_port),
    }


# A 1.5B model on 2 cores writes a short post in about two minutes; the bound is for
# finishing at all, not for speed (bench/local_model.py measures that).
@pytest.mark.timeout(900)
def test_the_local_model_writes_a_structured_draft_post(
    llm_server: LlmServer, tmp_path: Path
) -> None:
    with local_pod(tmp_path, llm_server.base_url, env=local_provider_env(llm_server.port)) as pod:
        job = pod.write("Why unit tests make refactoring safer", length="short")
        done = pod.wait_job(job["id"], timeout=900)
        assert done["status"] == "succeeded", f"{done}\n{pod.logs()}\n{llm_server.process.logs()}"
        assert (done["provider"], done["model"], done["draft"]) == (
            "local",
            "qwen2.5-coder-1.5b-instruct",
            True,
        )
        assert done["usage"]["output_tokens"] > 100
        post = pod.http.get(f"/api/v1/posts/{done['post']['slug']}").json()
        page = pod.http.get(done["post"]["url"])
    assert page.status_code == 200
    assert post["front_matter"]["draft"] is True
    shape = post_shape(post["markdown"])
    assert shape.problems() == [], post["markdown"]
    assert done["post"]["title"] == shape.title
