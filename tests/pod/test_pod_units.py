"""Unit tests of the local Pod's plan: layout, variables, start order, writer helpers."""

from __future__ import annotations

from pathlib import Path

from blogpod.agent.settings import AgentSettings
from blogpod.llm.settings import LlmSettings
from blogpod.pod import CHECKOUT_DIR, PodLayout, child_env, plan_services, service_overrides
from blogpod.pod_settings import PodSettings
from blogpod.skills.settings import SkillsSettings
from blogpod.web.settings import WebSettings
from blogpod.writer import Progress, _apply, build_payload, post_url

SERVICE_CLASSES = (SkillsSettings, AgentSettings, WebSettings, LlmSettings)


def test_every_variable_the_pod_sets_is_read_by_a_service(tmp_path: Path) -> None:
    """A renamed setting in any service would silently drop the Pod's value: catch it here."""
    fields = {f"BLOGPOD_{name.upper()}" for cls in SERVICE_CLASSES for name in cls.model_fields}
    variables = service_overrides(PodSettings(), PodLayout(tmp_path))
    blogpod_vars = {k for k in variables if k.startswith("BLOGPOD_")}
    assert blogpod_vars <= fields, blogpod_vars - fields


def test_layout_is_one_folder_per_volume(tmp_path: Path) -> None:
    layout = PodLayout(tmp_path / "data", skills_source_override=tmp_path / "mine")
    layout.make()
    for name in ("site", "state", "skills-shared", "tmp"):
        assert (tmp_path / "data" / name).is_dir()
    assert layout.nginx == tmp_path / "data" / "tmp" / "nginx"
    variables = service_overrides(PodSettings(port=9000), layout)
    assert variables["BLOGPOD_SKILLS_SOURCE"] == str(tmp_path / "mine")
    assert variables["BLOGPOD_SITE_DIR"] == str(tmp_path / "data" / "site")
    assert variables["BLOGPOD_PORT"] == "9000"
    assert variables["TMPDIR"] == str(tmp_path / "data" / "tmp")


def test_skills_come_from_the_checkout_by_default(tmp_path: Path) -> None:
    assert (CHECKOUT_DIR / "skills" / "blog-writer" / "SKILL.md").is_file()
    assert PodLayout(tmp_path).skills_source == CHECKOUT_DIR / "skills"


def test_start_order_and_the_llm_hook() -> None:
    settings = PodSettings()
    assert [s.name for s in plan_services(settings, with_llm=False)] == ["skills", "agent", "web"]
    with_llm = plan_services(settings, with_llm=True)
    assert [s.name for s in with_llm] == ["skills", "llm", "agent", "web"]
    llm = with_llm[1]
    assert llm.ready_url == f"http://127.0.0.1:{settings.llm_port}/readyz"
    assert llm.command()[-2:] == ["serve", "llm"]


def test_writer_payload_and_progress() -> None:
    payload = build_payload("T", skill="tutorial", keywords=" a, ,b ", tone=None)
    assert payload == {"topic": "T", "skill": "tutorial", "keywords": ["a", "b"]}
    progress = Progress(job={"id": "j"})
    for event, data in (
        ("status", {"status": "running", "attempt": 1}),
        ("delta", {"text": "A first attempt that the provider dropped"}),
        ("status", {"status": "running", "attempt": 2, "restarted": True}),
        ("delta", {"text": "# Title\n\nTwo words"}),
        ("delta", {"text": " and more."}),
        ("published", {"slug": "t", "url": "/posts/t/", "title": "Title"}),
        ("status", {"status": "succeeded"}),
    ):
        _apply(progress, event, data)
    assert progress.status == "succeeded"
    assert progress.words == 5
    assert post_url("http://127.0.0.1:8080", progress.post) == "http://127.0.0.1:8080/posts/t/"
    assert post_url("http://h:1/", None) is None


def test_only_web_listens_beyond_loopback() -> None:
    env = {"BLOGPOD_BIND": "0.0.0.0", "X": "1"}
    specs = {s.name: s for s in plan_services(PodSettings(), with_llm=True)}
    assert child_env(specs["web"], env)["BLOGPOD_BIND"] == "0.0.0.0"
    for name in ("skills", "llm", "agent"):
        assert child_env(specs[name], env) == {"BLOGPOD_BIND": "127.0.0.1", "X": "1"}
