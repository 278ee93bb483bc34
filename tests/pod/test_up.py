"""``blogpod up``: the whole Pod as processes, from start to a clean stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.pod.up_process import (
    blogpod_up,
    provider_env,
    stop_gracefully,
    up_env,
    wait_for_up,
)
from tests.support.processes import VENV_BIN, ServiceProcess
from tests.support.scripted_provider import ScriptedProvider

pytestmark = pytest.mark.slow
BLOGPOD = str(VENV_BIN / "blogpod")


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_up_writes_a_post_and_stops_with_no_process_left(tmp_path: Path) -> None:
    with ScriptedProvider.running(tokens=60) as provider:
        env = up_env(tmp_path / "data", **provider_env(provider.base_url))
        proc = ServiceProcess([BLOGPOD, "up", "--write-first-post"], env=env)
        try:
            url = wait_for_up(proc)
            # The first post, written by `up` itself through the API.
            deadline = time.monotonic() + 240
            while "published: " not in proc.logs() and time.monotonic() < deadline:
                assert proc.proc.poll() is None, proc.logs()
                time.sleep(0.2)
            assert "published: " in proc.logs(), proc.logs()
            deadline = time.monotonic() + 30
            while "blogpod is running: blog" not in proc.logs() and time.monotonic() < deadline:
                time.sleep(0.1)
            logs = proc.logs()
            assert logs.index("pod    | blogpod is running: blog") > logs.index("published: ")

            # Every service's log lines come prefixed with its name.
            logs = proc.logs()
            for name in ("skills", "agent", "web", "write", "pod"):
                assert f"\n{name:<6} | " in logs, name

            # The Pod's layout: one folder per volume under the data dir.
            data = tmp_path / "data"
            for folder in ("site", "state", "skills-shared", "tmp"):
                assert (data / folder).is_dir(), folder
            assert (data / "site" / "index.html").is_file()

            # A second post through `blogpod write`, as a user would.
            write = subprocess.run(
                [BLOGPOD, "write", "Process groups and clean shutdowns", "--url", url],
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert write.returncode == 0, write.stdout + write.stderr
            post_url = write.stdout.strip().splitlines()[-1].split("published: ")[1].split()[0]
            page = httpx.get(post_url)
            assert page.status_code == 200
            assert "Process groups and clean shutdowns" in page.text
            assert "Process groups and clean shutdowns" in httpx.get(f"{url}/feed.xml").text

            tree = psutil.Process(proc.pid).children(recursive=True)
            assert len(tree) >= 4  # skills, agent (+ its Copilot CLI), nginx master + worker
        finally:
            code = stop_gracefully(proc) if proc.proc.poll() is None else proc.proc.returncode
            final_logs = proc.logs()
            proc.stop()
    assert code == 0, final_logs
    assert "pod    | stopped" in final_logs
    leftover = _alive(tree)
    assert not leftover, [(p.pid, p.cmdline()) for p in leftover]
    with socket.socket() as sock:  # the web port is free again
        sock.bind(("127.0.0.1", int(env["BLOGPOD_PORT"])))


def test_crashed_child_is_restarted(tmp_path: Path) -> None:
    with (
        ScriptedProvider.running(tokens=20) as provider,
        blogpod_up(tmp_path / "data", provider.base_url) as pod,
    ):
        skills = next(
            p
            for p in psutil.Process(pod.process.pid).children()
            if "skills" in " ".join(p.cmdline())
        )
        skills.kill()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if "restarting skills" in pod.process.logs():
                break
            time.sleep(0.2)
        assert "skills exited with code -9; restarting in 1 s" in pod.process.logs()
        # ... and it serves again through nginx.
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{pod.url}/api/v1/skills").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert httpx.get(f"{pod.url}/api/v1/skills").status_code == 200
        assert not skills.is_running()

        # Ctrl-C (SIGINT to `blogpod up` alone) stops every process it started.
        tree = pod.descendants()
        assert len(tree) >= 4
        pod.process.proc.send_signal(signal.SIGINT)
        assert pod.process.proc.wait(60) == 0
    leftover = _alive(tree)
    assert not leftover, [(p.pid, p.cmdline()) for p in leftover]


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = up_env(tmp_path / "data", **provider_env("http://127.0.0.1:9/v1"))
        env["BLOGPOD_PORT"] = str(port)
        result = subprocess.run(
            [BLOGPOD, "up"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "BLOGPOD_PORT" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing started, nothing created


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BLOGPOD_POST_RATE", "lots", "BLOGPOD_POST_RATE"),
        ("BLOGPOD_READY_TIMEOUT", "-1", "BLOGPOD_READY_TIMEOUT"),
        ("BLOGPOD_PROVIDER", "nobody", "BLOGPOD_PROVIDER"),
    ],
)
def test_bad_setting_is_a_clear_error(
    tmp_path: Path, variable: str, value: str, named: str
) -> None:
    env = up_env(tmp_path / "data", **provider_env("http://127.0.0.1:9/v1"))
    env[variable] = value
    result = subprocess.run([BLOGPOD, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert named in result.stderr


def test_missing_nginx_is_a_clear_error(tmp_path: Path) -> None:
    env = up_env(tmp_path / "data", **provider_env("http://127.0.0.1:9/v1"))
    env["BLOGPOD_NGINX_BINARY"] = str(tmp_path / "no-nginx")
    result = subprocess.run([BLOGPOD, "up"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "nginx" in result.stderr and "BLOGPOD_NGINX_BINARY" in result.stderr


def test_write_reports_an_unreachable_pod(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [BLOGPOD, "write", "topic", "--url", f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot reach blogpod" in result.stdout + result.stderr


def test_write_exit_codes_and_no_wait(tmp_path: Path) -> None:
    with (
        ScriptedProvider.running(tokens=30) as provider,
        blogpod_up(tmp_path / "data", provider.base_url) as pod,
    ):
        queued = subprocess.run(
            [BLOGPOD, "write", "Queued and left alone", "--no-wait", "--url", pod.url],
            env=pod.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert queued.returncode == 0, queued.stdout + queued.stderr
        assert "/api/v1/jobs/" in queued.stdout and "/events" in queued.stdout

        # Every model call is refused: the job fails, nothing is published, exit 1.
        provider.script({"kind": "http400", "times": 50})
        failed = subprocess.run(
            [BLOGPOD, "write", "A post the model refuses", "--url", pod.url],
            env=pod.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        provider.reset()
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "not published" in failed.stdout and "failed" in failed.stdout

        refused = subprocess.run(
            [BLOGPOD, "write", "x", "--skill", "no-such-skill", "--url", pod.url],
            env=pod.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # Refused at once (problem+json 422), naming the skill and the ones there are: exit 2.
        assert refused.returncode == 2, refused.stdout
        assert "no-such-skill" in refused.stdout and "blog-writer" in refused.stdout
