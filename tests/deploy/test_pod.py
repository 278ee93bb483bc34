"""The real Pod: the three images built with Podman from deploy/images/*/Dockerfile, the
rendered classic and native overlays played with `podman kube play --network host`, and a
user's journey through the web port with the scripted provider on the host's loopback.

Podman is the closest runtime to a kubelet that this machine kind can have (no API server
can be installed). What it cannot do is adapted in tests/deploy/podman_pod.py, each change
with its reason.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.manifests import documents
from tests.deploy.podman_pod import PlayedPod, build_images, played, podman, wait_until
from tests.support.pod import FINAL_STATES, running_provider_process
from tests.support.processes import ServiceProcess, free_port
from tests.support.scripted_provider import ProviderControl

pytestmark = [pytest.mark.pod, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def images() -> None:
    build_images()


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[ServiceProcess, ProviderControl]]:
    port = free_port()
    proc = running_provider_process(port, first_token_ms=0, tokens_per_s=0, tokens=40)
    try:
        yield proc, ProviderControl(f"http://127.0.0.1:{port}")
    finally:
        proc.stop()


def provider_env(control: ProviderControl) -> dict[str, str]:
    return {
        "BLOGPOD_PROVIDER": "openai",
        "BLOGPOD_PROVIDER_BASE_URL": control.base_url,
        "BLOGPOD_PROVIDER_API_KEY": "scripted-key",
        "BLOGPOD_MODEL": "scripted-model",
    }


class Journey:
    """What a user does through the web port (nginx), and nothing else."""

    def __init__(self, pod: PlayedPod) -> None:
        self.pod = pod
        self.http = httpx.Client(base_url=pod.url, timeout=30)

    def write(self, topic: str) -> dict[str, Any]:
        resp = self.http.post("/api/v1/posts", json={"topic": topic})
        assert resp.status_code == 202, resp.text
        job: dict[str, Any] = resp.json()
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/api/v1/jobs/{job_id}")
        resp.raise_for_status()
        job: dict[str, Any] = resp.json()
        return job

    def wait(
        self, job_id: str, states: frozenset[str] = FINAL_STATES, timeout: float = 180
    ) -> dict[str, Any]:
        try:
            job: dict[str, Any] = wait_until(
                lambda: (j := self.job(job_id))["status"] in states and j, timeout, f"job {job_id}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.pod.logs()}") from None
        return job

    def skill_version(self, name: str) -> str:
        skill = self.http.get(f"/api/v1/skills/{name}").json()
        return str(skill["version"])


def wait_ready(pod: PlayedPod, timeout: float = 180) -> None:
    try:
        wait_until(
            lambda: (
                httpx.get(pod.url + "/api/v1/jobs", timeout=3).status_code == 200
                and httpx.get(pod.url + "/api/v1/catalog", timeout=3).status_code == 200
            ),
            timeout,
            "the Pod answering through the web port",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{pod.logs()}") from None


def probes_pass_and_containers_are_locked_down(pod: PlayedPod) -> None:
    """Run each container's probes the way the kubelet would, inside the real images, and
    check the user and the read-only root filesystem the manifest asks for."""
    for cont in pod.spec()["containers"]:
        name = cont["name"]
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = cont[probe_name]
            if "exec" in probe:
                proc = pod.exec(name, *probe["exec"]["command"])
                assert proc.returncode == 0, (name, probe_name, proc.stdout, proc.stderr)
            else:
                url = f"http://127.0.0.1:{probe['httpGet']['port']}{probe['httpGet']['path']}"
                assert httpx.get(url, timeout=5).status_code == 200, (name, probe_name)
        assert pod.exec(name, "id", "-u").stdout.strip() == "10001", name
        denied = pod.exec(name, "touch", "/probe-write-test")
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, name
        assert pod.exec(name, "touch", "/tmp/probe-write-test").returncode == 0, name


def published_and_served(journey: Journey, job: dict[str, Any], topic: str) -> None:
    assert job["status"] == "succeeded", job
    post = job["post"]
    page = journey.http.get(post["url"])
    assert page.status_code == 200, post
    assert topic in page.text
    index = journey.http.get("/")
    assert index.status_code == 200 and post["url"] in index.text
    feed = journey.http.get("/feed.xml")
    assert feed.status_code == 200 and post["title"] in feed.text


def change_skill_source(pod: PlayedPod, key: str) -> None:
    """Edit the ConfigMap's file as the kubelet would: a new file renamed into place."""
    folder = pod.volume_path("blogpod-skills")
    target = folder / key
    text = target.read_text()
    tmp = folder / f".{key}.new"
    tmp.write_text(text.rstrip("\n") + "\n\nEnd every post with a one-line summary.\n")
    os.chmod(tmp, 0o644)
    tmp.replace(target)


@pytest.mark.parametrize("overlay", ["classic", "native"])
def test_pod_journey(
    overlay: str,
    images: None,
    provider: tuple[ServiceProcess, ProviderControl],
    tmp_path: Path,
) -> None:
    _, control = provider
    control.reset()
    with played(documents(overlay), tmp_path, overlay, provider_env(control)) as pod:
        wait_ready(pod)
        probes_pass_and_containers_are_locked_down(pod)
        journey = Journey(pod)

        # 1. A post is written, published and served.
        first = journey.wait(journey.write("Podman pods for the curious")["id"])
        published_and_served(journey, first, "Podman pods for the curious")
        version_before = journey.skill_version("blog-writer")
        assert first["skill"] == "blog-writer" and first["skill_version"] == version_before

        # 2. The skills ConfigMap changes: the next post records the new skill version.
        change_skill_source(pod, "blog-writer.md")
        version_after = wait_until(
            lambda: (v := journey.skill_version("blog-writer")) != version_before and v,
            90,
            "the skill server publishing the changed skill",
        )
        second = journey.wait(journey.write("Skills that change while running")["id"])
        published_and_served(journey, second, "Skills that change while running")
        assert second["skill_version"] == version_after != first["skill_version"]

        # 3. The agent container is killed mid-job; the job still completes.
        control.set_pace(first_token_ms=200, tokens_per_s=20, tokens=200)
        job = journey.write("Surviving a killed agent")
        journey.wait(job["id"], frozenset({"running"}), timeout=60)
        wait_until(
            lambda: any("Surviving" in str(r.get("body")) for r in control.requests()),
            60,
            "the provider receiving the job's request",
        )
        restarts = pod.restarts("agent")
        os.kill(pod.main_pid("agent"), signal.SIGKILL)  # as the OOM killer or a crash would
        wait_until(lambda: pod.restarts("agent") > restarts, 60, "the agent container restarted")
        control.set_pace(first_token_ms=0, tokens_per_s=0, tokens=40)
        done = journey.wait(job["id"], timeout=240)
        published_and_served(journey, done, "Surviving a killed agent")
        assert done["attempts"] >= 2, done
    # Cleanup happened in played(): nothing of this Pod is left.
    assert pod.name not in podman("pod", "ls", "--format", "{{.Name}}").stdout
    assert pod.name not in podman("ps", "-a", "--format", "{{.Names}}").stdout
