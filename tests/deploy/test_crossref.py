"""What schemas miss: the parts of the rendered manifests that must agree with each other and
with the code (selectors and labels, volumes, ConfigMap/Secret names, nginx upstreams, env
names against the settings classes, probes, security settings)."""

from __future__ import annotations

import importlib
import os
import re

import pytest

from blogpod.config import ENV_PREFIX, CommonSettings, ConfigError, load_settings
from blogpod.settings_doc import SETTINGS_MODULES
from tests.deploy.manifests import (
    IMAGES_DIR,
    Manifest,
    by_kind,
    container,
    containers,
    documents,
    env_value,
    one,
    overlays,
    pod_spec,
)
from tests.support.processes import REPO

MINE = ["classic", "native", "production"]
SECRET_NAME = "blogpod"
#: Env names that are not BLOGPOD_* but are read by a settings class through an alias.
ALIASED = {"COPILOT_GITHUB_TOKEN"}
#: What a Secret would give the agent in a cluster (docs/deploy.md), to load its settings.
SAMPLE_SECRET = {
    "BLOGPOD_PROVIDER": "openai",
    "BLOGPOD_PROVIDER_BASE_URL": "https://api.openai.com/v1",
    "BLOGPOD_PROVIDER_API_KEY": "sk-test",
    "BLOGPOD_MODEL": "gpt-4.1",
}


def settings_classes() -> dict[str, type[CommonSettings]]:
    for module in SETTINGS_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return {getattr(cls, "service_name", ""): cls for cls in CommonSettings.registry}


def env_names(cls: type[CommonSettings]) -> set[str]:
    names = set()
    for field_name, info in cls.model_fields.items():
        names.add(ENV_PREFIX + field_name.upper())
        alias = info.validation_alias
        for choice in getattr(alias, "choices", []):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def mounts(cont: Manifest) -> dict[str, Manifest]:
    return {m["name"]: m for m in cont.get("volumeMounts", [])}


def long_running(cont: Manifest, spec: Manifest) -> bool:
    """Regular containers and native sidecars (init containers that keep running)."""
    return cont in spec["containers"] or cont.get("restartPolicy") == "Always"


@pytest.mark.parametrize("overlay", MINE)
def test_selectors_match_the_pod_labels(overlay: str) -> None:
    docs = documents(overlay)
    deployment = one(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels_match(deployment["spec"]["selector"]["matchLabels"], labels)
    assert labels_match(one(docs, "Service")["spec"]["selector"], labels)
    for kind in ("NetworkPolicy", "PodDisruptionBudget"):
        for doc in by_kind(docs, kind):
            key = "podSelector" if kind == "NetworkPolicy" else "selector"
            assert labels_match(doc["spec"][key]["matchLabels"], labels), (kind, overlay)
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {one(docs, "Namespace")["metadata"]["name"]}


@pytest.mark.parametrize("overlay", overlays())
def test_every_volume_mount_has_its_volume_and_every_volume_is_used(overlay: str) -> None:
    spec = pod_spec(documents(overlay))
    volumes = {v["name"]: v for v in spec["volumes"]}
    used = set()
    for cont in containers(spec):
        for name in mounts(cont):
            assert name in volumes, f"{overlay}: {cont['name']} mounts undefined volume {name}"
            used.add(name)
    assert used == set(volumes), f"{overlay}: unused volumes {set(volumes) - used}"


@pytest.mark.parametrize("overlay", overlays())
def test_configmaps_claims_and_secrets_agree(overlay: str) -> None:
    docs = documents(overlay)
    spec = pod_spec(docs)
    configmaps = {d["metadata"]["name"] for d in by_kind(docs, "ConfigMap")}
    claims = {d["metadata"]["name"] for d in by_kind(docs, "PersistentVolumeClaim")}
    for volume in spec["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] in configmaps, volume
        if "persistentVolumeClaim" in volume:
            assert volume["persistentVolumeClaim"]["claimName"] in claims, volume
    secret_refs = set()
    for cont in containers(spec):
        for source in cont.get("envFrom", []):
            secret_refs.add(source["secretRef"]["name"])
        for item in cont.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                secret_refs.add(ref["name"])
    assert secret_refs == {SECRET_NAME}, "one Secret, the one docs/deploy.md tells you to create"
    assert (
        f"kubectl -n blogpod create secret generic {SECRET_NAME}"
        in (REPO / "docs" / "deploy.md").read_text()
    )


def test_skills_configmap_holds_the_repository_skills() -> None:
    configmap = next(
        d
        for d in documents("classic")
        if d["kind"] == "ConfigMap" and "skills" in d["metadata"]["name"]
    )
    expected = {
        f"{p.parent.name}.md": p.read_text() for p in sorted((REPO / "skills").glob("*/SKILL.md"))
    }
    assert expected and configmap["data"] == expected


@pytest.mark.parametrize("overlay", overlays())
def test_env_names_match_the_settings_classes(overlay: str) -> None:
    classes = settings_classes()
    spec = pod_spec(documents(overlay))
    for cont in containers(spec):
        cls = classes.get(cont["name"])
        if cls is None or not long_running(cont, spec):
            continue  # a one-shot init container (e.g. llm-weights) has its own command line
        known = env_names(cls)
        for item in cont.get("env", []):
            name = item["name"]
            if name.startswith(ENV_PREFIX) or name in ALIASED:
                assert name in known, (
                    f"{overlay}: {cont['name']} sets {name}, unknown to {cls.__name__}"
                )


@pytest.mark.parametrize("overlay", MINE)
def test_each_container_loads_its_settings_from_the_manifest(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    classes = settings_classes()
    spec = pod_spec(documents(overlay))
    for cont in containers(spec):
        for key in [k for k in list(os.environ) if k.startswith(ENV_PREFIX)]:
            monkeypatch.delenv(key)
        values = {i["name"]: i["value"] for i in cont.get("env", []) if "value" in i}
        if cont.get("envFrom"):
            values.update(SAMPLE_SECRET)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        try:
            load_settings(classes[cont["name"]])
        except ConfigError as exc:
            pytest.fail(f"{overlay}: {cont['name']}: {exc}")


def _upstream_ports(config: str) -> dict[str, int]:
    return {
        name: int(port)
        for name, port in re.findall(r"upstream (\w+) \{\s*server [^\s;]+:(\d+);", config)
    }


@pytest.mark.parametrize("overlay", MINE)
def test_nginx_upstreams_and_listen_port_match_the_containers(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blogpod.web.nginx import render_config
    from blogpod.web.settings import WebSettings

    docs = documents(overlay)
    spec = pod_spec(docs)
    web = container(spec, "web")
    for key in [k for k in list(os.environ) if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(key)
    for item in web["env"]:
        monkeypatch.setenv(item["name"], item["value"])
    config = render_config(load_settings(WebSettings))
    upstreams = _upstream_ports(config)
    for name in ("agent", "skills"):
        port = {p["name"]: p["containerPort"] for p in container(spec, name)["ports"]}[name]
        assert upstreams[name] == port, (overlay, name, upstreams)
        assert env_value(container(spec, name), f"BLOGPOD_{name.upper()}_PORT") == str(port)
    web_port = {p["name"]: p["containerPort"] for p in web["ports"]}["http"]
    assert re.search(rf"listen 0\.0\.0\.0:{web_port};", config), "nginx listens on the web port"
    service_ports = one(docs, "Service")["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == ["http"], "the Service exposes only web"


@pytest.mark.parametrize("overlay", MINE)
def test_mount_paths_match_the_settings_paths(overlay: str) -> None:
    spec = pod_spec(documents(overlay))
    expect = {
        ("web", "BLOGPOD_SITE_DIR"): ("blog-site", True),
        ("agent", "BLOGPOD_SITE_DIR"): ("blog-site", False),
        ("agent", "BLOGPOD_STATE_DIR"): ("agent-state", False),
        ("agent", "BLOGPOD_SKILLS_SHARED"): ("skills-shared", True),
        ("skills", "BLOGPOD_SKILLS_SHARED"): ("skills-shared", False),
        ("skills", "BLOGPOD_SKILLS_SOURCE"): ("skills-source", True),
    }
    for (name, var), (volume, read_only) in expect.items():
        cont = container(spec, name)
        mount = mounts(cont)[volume]
        assert env_value(cont, var) == mount["mountPath"], (overlay, name, var)
        assert bool(mount.get("readOnly")) is read_only, (overlay, name, volume)
    # Every root filesystem is read-only: each container's /tmp is an emptyDir of its own.
    for cont in containers(spec):
        if long_running(cont, spec):
            assert mounts(cont)[f"{cont['name']}-tmp"]["mountPath"] == "/tmp", cont["name"]
    nginx_dir = env_value(container(spec, "web"), "BLOGPOD_NGINX_DIR")
    assert nginx_dir is not None and nginx_dir.startswith("/tmp/")


@pytest.mark.parametrize("overlay", overlays())
def test_every_container_is_locked_down(overlay: str) -> None:
    spec = pod_spec(documents(overlay))
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] >= 10000
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for cont in containers(spec):
        ctx = cont["securityContext"]
        assert ctx["runAsNonRoot"] is True, cont["name"]
        assert ctx["readOnlyRootFilesystem"] is True, cont["name"]
        assert ctx["allowPrivilegeEscalation"] is False, cont["name"]
        assert ctx["capabilities"]["drop"] == ["ALL"], cont["name"]
        assert "add" not in ctx["capabilities"], cont["name"]
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault", cont["name"]


@pytest.mark.parametrize("overlay", overlays())
def test_probes_reach_each_container_on_its_own_port(overlay: str) -> None:
    spec = pod_spec(documents(overlay))
    assert spec["terminationGracePeriodSeconds"] >= 30
    for cont in containers(spec):
        if not long_running(cont, spec):
            continue
        ports = {p["name"]: p["containerPort"] for p in cont.get("ports", [])}
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = cont.get(probe_name)
            assert probe, f"{overlay}: {cont['name']} has no {probe_name}"
            if "httpGet" in probe:
                port = probe["httpGet"]["port"]
                assert (ports.get(port) if isinstance(port, str) else port) in ports.values()
            else:
                urls = [a for a in probe["exec"]["command"] if a.startswith("http://")]
                assert len(urls) == 1, probe
                port = int(re.match(r"http://127\.0\.0\.1:(\d+)/", urls[0])[1])  # type: ignore[index]
                assert port in ports.values(), (overlay, cont["name"], probe_name, port)


def test_web_has_a_prestop_hook_and_native_order_is_skills_agent_web() -> None:
    for overlay in ("native", "production"):
        spec = pod_spec(documents(overlay))
        assert [c["name"] for c in spec["initContainers"]] == ["skills", "agent"]
        assert all(c["restartPolicy"] == "Always" for c in spec["initContainers"])
        assert all("startupProbe" in c for c in spec["initContainers"])
        assert [c["name"] for c in spec["containers"]] == ["web"]
    classic = pod_spec(documents("classic"))
    assert "initContainers" not in classic
    assert [c["name"] for c in classic["containers"]] == ["web", "agent", "skills"]
    assert "preStop" in container(classic, "web")["lifecycle"]


def test_production_adds_its_concerns() -> None:
    docs = documents("production")
    spec = pod_spec(docs)
    volumes = {v["name"]: v for v in spec["volumes"]}
    for name in ("blog-site", "agent-state"):
        assert "persistentVolumeClaim" in volumes[name] and "emptyDir" not in volumes[name]
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert [p["port"] for r in policy["ingress"] for p in r["ports"]] == [8080]
    assert sorted(p["port"] for r in policy["egress"] for p in r["ports"]) == [53, 53, 443]
    assert one(docs, "PodDisruptionBudget")
    for cont in containers(spec):
        res = cont["resources"]
        assert set(res["requests"]) == set(res["limits"]) == {"cpu", "memory"}, cont["name"]


@pytest.mark.parametrize("overlay", overlays())
def test_every_image_has_a_dockerfile(overlay: str) -> None:
    for cont in containers(pod_spec(documents(overlay))):
        name = re.search(r"blogpod-(\w+)[:@]", cont["image"])
        assert name, cont["image"]
        assert (IMAGES_DIR / name[1] / "Dockerfile").is_file(), cont["image"]
