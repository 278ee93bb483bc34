"""The skill server's API against a real `blogpod serve skills` process."""

from __future__ import annotations

import io
import os
import shutil
import stat
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.skills.helpers import skill_md, write_skill
from tests.skills.server import TOKEN, UPLOAD_LIMIT, Server, start
from tests.support.processes import REPO, VENV_BIN, ServiceProcess, blogpod_env

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("api")
    source = tmp / "source"
    shutil.copytree(REPO / "skills", source)
    write_skill(source, "broken", skill_md("broken", metadata={"version": 2}))
    srv = start(tmp, source)
    srv.process.wait_http(srv.url + "/readyz")
    yield srv
    srv.process.stop()


def assert_problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body  # type: ignore[no-any-return]


def zip_of(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def test_health_and_readiness(server: Server) -> None:
    assert server.get("/healthz").json() == {"status": "ok", "snapshot": None}
    ready = server.get("/readyz").json()
    assert ready["status"] == "ready"
    assert os.readlink(server.shared / "current") == f"snapshots/{ready['snapshot']}"


def test_metrics(server: Server) -> None:
    text = server.get("/metrics").text
    assert "blogpod_skills_publishes_total 1.0" in text
    assert 'blogpod_skills_findings{severity="error"} 1.0' in text
    assert 'blogpod_skills{status="ok"} 3.0' in text
    assert 'blogpod_skills{status="rejected"} 1.0' in text
    assert "blogpod_skills_snapshot_age_seconds" in text
    assert "blogpod_skills_watcher_errors_total 0.0" in text


def test_list_skills(server: Server) -> None:
    skills = {s["name"]: s for s in server.get("/api/v1/skills").json()}
    # only live skills: a never-valid one cannot be chosen for a post
    assert list(skills) == ["blog-writer", "release-notes", "tutorial"]
    writer = skills["blog-writer"]
    assert writer["status"] == "ok" and writer["findings_count"] == 0 and writer["findings"] == []
    assert len(writer["version"]) == 16
    assert writer["description"].startswith("Writes a complete technical blog post")


def test_skill_detail_and_raw(server: Server) -> None:
    detail = server.get("/api/v1/skills/blog-writer").json()
    text = (REPO / "skills/blog-writer/SKILL.md").read_text()
    assert detail["status"] == "ok"
    assert detail["metadata"]["author"] == "blogpod"
    assert detail["body"] == text
    assert [f["path"] for f in detail["files"]] == ["SKILL.md"]
    assert detail["history"][0]["version"] == detail["version"]
    raw = server.get("/api/v1/skills/blog-writer/raw")
    assert raw.headers["content-type"].startswith("text/markdown")
    assert raw.text == text


def test_rejected_skill_detail_names_rule_and_line(server: Server) -> None:
    detail = server.get("/api/v1/skills/broken").json()
    assert detail["status"] == "rejected" and detail["body"] is None
    (finding,) = detail["findings"]
    assert finding["rule"] == "metadata-type" and finding["line"] == 4
    assert finding["file"] == "broken/SKILL.md"
    assert_problem(server.get("/api/v1/skills/broken/raw"), 404)


def test_catalog_is_the_published_file(server: Server) -> None:
    catalog = server.get("/api/v1/catalog").json()
    on_disk = (server.shared / "current" / "catalog.json").read_text()
    assert catalog["snapshot"] in on_disk
    assert [s["name"] for s in catalog["skills"]] == ["blog-writer", "release-notes", "tutorial"]


@pytest.mark.parametrize("name", ["BAD", "a--b-", "-x", "x" * 65, "a_b", "..", "%2e%2e"])
def test_bad_names_are_4xx_problems(server: Server, name: str) -> None:
    resp = server.get(f"/api/v1/skills/{name}")
    assert 400 <= resp.status_code < 500
    assert resp.headers["content-type"].startswith(PROBLEM)


def test_unknown_skill_is_404_with_the_available_names(server: Server) -> None:
    body = assert_problem(server.get("/api/v1/skills/nope"), 404)
    assert body["available"] == ["blog-writer", "release-notes", "tutorial"]


def test_validate_good_and_bad_skill_md(server: Server) -> None:
    good = server.upload("SKILL.md", skill_md("fresh").encode()).json()
    assert good["valid"] is True and good["name"] == "fresh" and good["findings"] == []
    bad = server.upload("fresh.md", skill_md("other").encode()).json()
    assert bad["valid"] is False
    assert [f["rule"] for f in bad["findings"]] == ["name-mismatch"]
    assert bad["findings"][0]["file"] == "fresh.md"


def test_validate_zip_of_a_skill_folder(server: Server) -> None:
    data = zip_of(
        {
            "fresh/SKILL.md": skill_md("fresh").encode(),
            "fresh/scripts/run.py": b"print('hi')\n",
            "fresh/.DS_Store": b"\0",
        }
    )
    report = server.upload("fresh.zip", data).json()
    assert report["valid"] is True and report["name"] == "fresh"
    assert [f["path"] for f in report["files"]] == ["SKILL.md", "scripts/run.py"]
    assert [f["rule"] for f in report["findings"]] == ["hidden-file"]
    rooted = server.upload("x.zip", zip_of({"SKILL.md": skill_md("rooted").encode()})).json()
    assert rooted["valid"] is True and rooted["name"] == "rooted"
    missing = server.upload("x.zip", zip_of({"a/README.md": b"x"})).json()
    assert missing["valid"] is False and missing["name"] == "a"
    assert [f["rule"] for f in missing["findings"]] == ["skill-md-missing"]


HOSTILE = {
    "traversal": (zip_of({"../evil/SKILL.md": b"x"}), 422),
    "absolute": (zip_of({"/etc/SKILL.md": b"x"}), 422),
    "backslash": (zip_of({"a\\..\\..\\SKILL.md": b"x"}), 422),
    "symlink": (zip_of({"a/SKILL.md": skill_md("a").encode()}, {"a/link": "/etc/passwd"}), 422),
    "bomb": (zip_of({"a/SKILL.md": skill_md("a").encode(), "a/zeros": b"\0" * 5_000_000}), 413),
    "too-many-files": (zip_of({f"a/f{i}": b"" for i in range(1200)}), 413),
    "not-a-zip": (b"PK\x03\x04 definitely not a zip", 400),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_uploads_are_refused_and_write_nothing(server: Server, case: str) -> None:
    data, status = HOSTILE[case]
    before = server.shared_tree()
    assert_problem(server.upload("skill.zip", data), status)
    assert server.shared_tree() == before


def test_oversized_upload_is_413(server: Server) -> None:
    before = server.shared_tree()
    body = assert_problem(server.upload("SKILL.md", b"x" * (UPLOAD_LIMIT + 100_000)), 413)
    assert "BLOGPOD_SKILLS_MAX_UPLOAD_BYTES" in str(body["detail"])
    assert server.shared_tree() == before


def test_upload_must_be_multipart_with_a_file(server: Server) -> None:
    assert_problem(server.post("/api/v1/skills:validate", content=b"raw"), 415)
    wrong_field = server.post("/api/v1/skills:validate", files={"other": ("SKILL.md", b"x")})
    assert_problem(wrong_field, 400)
    bad_multipart = server.post(
        "/api/v1/skills:validate",
        content=b"--b\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert 400 <= bad_multipart.status_code < 500


def test_sync_requires_the_token(server: Server) -> None:
    body = assert_problem(server.post("/api/v1/sync"), 401)
    assert "Bearer" in str(body["detail"])
    assert_problem(server.post("/api/v1/sync", headers={"Authorization": "Bearer wrong"}), 401)
    ok = server.post("/api/v1/sync", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["skills"] == 3


def test_openapi_documents_the_api(server: Server) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/skills", "/api/v1/skills/{name}", "/api/v1/skills:validate"):
        assert path in paths
    upload = paths["/api/v1/skills:validate"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_changes_are_published_and_reported(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_skill(source, "a", skill_md("a", body="v1\n"))
    srv = start(tmp_path, source)
    try:
        srv.process.wait_http(srv.url + "/readyz")
        v1 = srv.get("/api/v1/skills/a").json()["version"]
        write_skill(source, "a", "---\nname: a\ndescription: [oops\n---\n")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            detail = srv.get("/api/v1/skills/a").json()
            if detail["status"] == "stale":
                break
            time.sleep(0.1)
        assert detail["status"] == "stale" and detail["version"] == v1
        (listed,) = srv.get("/api/v1/skills").json()
        assert listed["status"] == "stale" and listed["findings_count"] == 1
        assert listed["findings"][0]["rule"] == "front-matter-yaml"
        assert detail["findings"][0]["rule"] == "front-matter-yaml"
        assert [h["status"] for h in detail["history"]] == ["ok", "stale"]
        assert srv.get("/api/v1/skills/a/raw").text == skill_md("a", body="v1\n")
        write_skill(source, "b", skill_md("b"))
        synced = srv.post("/api/v1/sync", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert synced["skills"] == 2
        assert {s["name"] for s in srv.get("/api/v1/skills").json()} == {"a", "b"}
    finally:
        assert srv.process.stop() is not None


def test_not_ready_until_the_source_appears(tmp_path: Path) -> None:
    source = tmp_path / "later"
    srv = start(tmp_path, source, BLOGPOD_SKILLS_RESYNC_INTERVAL="0.3")
    try:
        assert srv.get("/healthz").status_code == 200
        assert_problem(srv.get("/readyz"), 503)
        assert_problem(srv.get("/api/v1/skills"), 503)
        sync = srv.post("/api/v1/sync", headers={"Authorization": f"Bearer {TOKEN}"})
        assert_problem(sync, 503)
        write_skill(source, "a")
        srv.process.wait_http(srv.url + "/readyz", timeout=30)
        assert [s["name"] for s in srv.get("/api/v1/skills").json()] == ["a"]
        assert "blogpod_skills_sync_errors_total" in srv.get("/metrics").text
    finally:
        srv.process.stop()


def test_bad_settings_fail_at_start_naming_the_variable(tmp_path: Path) -> None:
    proc = ServiceProcess(
        [str(VENV_BIN / "blogpod"), "serve", "skills"],
        env=blogpod_env(BLOGPOD_SKILLS_PORT="not-a-port"),
        cwd=tmp_path,
    )
    assert proc.proc.wait(60) == 2
    assert "BLOGPOD_SKILLS_PORT" in proc.logs()
    proc.stop()


def test_serve_imports_no_agent_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, blogpod.skills.app, blogpod.skills.cli;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('copilot','jinja2')"
        " or m.startswith(('blogpod.agent', 'blogpod.site'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
