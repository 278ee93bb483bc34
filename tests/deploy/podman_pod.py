"""Run a rendered overlay as a real Pod under Podman (``podman kube play --network host``).

Podman runs the Deployment's Pod from the same YAML a cluster gets; only what Podman on one
host cannot do is adapted, in :func:`adapt_for_podman` (each change says why). Storage is
project-local (.cache/podman, see deploy/podman/env.sh) and every pod and volume a run makes
is removed afterwards.
"""

from __future__ import annotations

import copy
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import DEPLOY, Manifest, by_kind, containers
from tests.support.processes import REPO, free_port

IMAGES = ("skills", "agent", "web")
IMAGE_TAG = "dev"
#: The containers' ports in the manifests, replaced by free ones (host networking).
MANIFEST_PORTS = {"web": 8080, "agent": 8001, "skills": 8002}


@cache
def podman_env() -> dict[str, str]:
    """The environment deploy/podman/env.sh sets up (project-local storage, containers.conf)."""
    out = subprocess.run(
        ["bash", "-c", ". deploy/podman/env.sh && env -0"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    return env


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def build_images() -> None:
    """Build the three images from deploy/images/*/Dockerfile on the local bookworm base."""
    proc = subprocess.run(
        [str(DEPLOY / "podman" / "build-images.sh"), *IMAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if proc.returncode != 0:
        raise AssertionError(f"image build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}")


@dataclass
class PodPorts:
    web: int = field(default_factory=free_port)
    agent: int = field(default_factory=free_port)
    skills: int = field(default_factory=free_port)

    def of(self, container: str) -> int:
        return int(getattr(self, container))


def _replace_port_in_probe(probe: dict[str, Any], old: int, new: int) -> None:
    if "exec" in probe:
        probe["exec"]["command"] = [
            arg.replace(f"127.0.0.1:{old}/", f"127.0.0.1:{new}/")
            for arg in probe["exec"]["command"]
        ]
    if "httpGet" in probe:
        probe["httpGet"]["port"] = new


def adapt_for_podman(
    docs: list[Manifest], name: str, ports: PodPorts, provider_env: dict[str, str]
) -> list[Manifest]:
    """The overlay's Deployment and ConfigMap, changed only where Podman on one host must."""
    out: list[Manifest] = []
    # Podman plays Pods, Deployments and ConfigMaps; Namespace, ServiceAccount and Service
    # are cluster objects it has no use for.
    for doc in by_kind(docs, "ConfigMap"):
        out.append(copy.deepcopy(doc))
    deployment = copy.deepcopy(by_kind(docs, "Deployment")[0])
    # A unique name: the pod and its volumes are found and removed by it.
    deployment["metadata"]["name"] = name
    spec = deployment["spec"]["template"]["spec"]
    # Podman 4.3 predates native sidecars: it runs every init container to completion before
    # the others start, so a server there would block the Pod forever. The sidecars become
    # regular containers, first in their order (skills, agent), then web; their startup
    # probes stay. The start order itself is the kubelet's and is not exercised here.
    sidecars = [c for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    if sidecars:
        spec["initContainers"] = [c for c in spec["initContainers"] if c not in sidecars]
        if not spec["initContainers"]:
            del spec["initContainers"]
        for cont in sidecars:
            del cont["restartPolicy"]
        spec["containers"] = sidecars + spec["containers"]
    for cont in containers(spec):
        short = cont["name"]
        # Images built here, never pulled.
        cont["image"] = f"localhost/blogpod-{short}:{IMAGE_TAG}"
        cont["imagePullPolicy"] = "Never"
        # Host networking (the only kind that works here) rejects `ports:`; every container
        # listens on a free port of the host's loopback instead of the Pod's.
        cont.pop("ports", None)
        old, new = MANIFEST_PORTS[short], ports.of(short)
        for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe_name in cont:
                _replace_port_in_probe(cont[probe_name], old, new)
        env = []
        for item in cont.get("env", []):
            # No Secret exists here: the provider settings come as plain values below.
            if "valueFrom" in item and "secretKeyRef" in item["valueFrom"]:
                continue
            env.append(item)
        for item in env:
            if item["name"] == "BLOGPOD_PORT":
                item["value"] = str(ports.web)
            elif item["name"] == "BLOGPOD_AGENT_PORT":
                item["value"] = str(ports.agent)
            elif item["name"] == "BLOGPOD_SKILLS_PORT":
                item["value"] = str(ports.skills)
            elif item["name"] == "BLOGPOD_BIND":
                item["value"] = "127.0.0.1"  # the host's interfaces stay closed
        if cont.pop("envFrom", None) is not None:
            env.extend({"name": k, "value": v} for k, v in provider_env.items())
        if short == "web":
            # A test posts far more often than a person does.
            env.append({"name": "BLOGPOD_POST_RATE", "value": "6000r/m"})
            env.append({"name": "BLOGPOD_POST_BURST", "value": "500"})
        cont["env"] = env
    out.append(deployment)
    return out


@dataclass
class PlayedPod:
    name: str
    yaml_path: Path
    ports: PodPorts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    def container_id(self, container: str) -> str:
        """Podman names a played Deployment's containers <name>-pod-<n>-<container>."""
        listing = podman("ps", "-a", "--format", "{{.ID}} {{.Names}}").stdout.splitlines()
        for line in listing:
            cid, _, names = line.partition(" ")
            if re.fullmatch(rf"{re.escape(self.name)}-pod-\d+-{container}", names.strip()):
                return cid
        raise AssertionError(f"no container {container} of {self.name} in:\n{listing}")

    def exec(self, container: str, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.container_id(container), *command, check=False)

    def spec(self) -> Manifest:
        """The played (adapted) Deployment's Pod spec."""
        docs = list(yaml.safe_load_all(self.yaml_path.read_text()))
        spec: Manifest = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]
        return spec

    def main_pid(self, container: str) -> int:
        cid = self.container_id(container)
        return int(podman("inspect", "--format", "{{.State.Pid}}", cid).stdout.strip())

    def restarts(self, container: str) -> int:
        cid = self.container_id(container)
        return int(podman("inspect", "--format", "{{.RestartCount}}", cid).stdout.strip())

    def logs(self) -> str:
        parts = []
        for line in podman(
            "ps", "-a", "--pod", "--format", "{{.Names}}", check=False
        ).stdout.split():
            if line.startswith(f"{self.name}-pod"):
                proc = podman("logs", "--tail", "60", line, check=False)
                parts.append(f"--- {line}\n{proc.stdout}{proc.stderr}")
        return "\n".join(parts)

    def volume_path(self, volume: str) -> Path:
        """Host folder of one of the Pod's named volumes (a ConfigMap or an emptyDir)."""
        mountpoint = podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout
        return Path(mountpoint.strip())


@contextmanager
def played(
    docs: list[Manifest], tmp_dir: Path, overlay: str, provider_env: dict[str, str]
) -> Iterator[PlayedPod]:
    """`podman kube play` the adapted overlay; always `kube down` and remove its volumes."""
    name = f"bp-{overlay}-{uuid.uuid4().hex[:6]}"
    ports = PodPorts()
    adapted = adapt_for_podman(docs, name, ports, provider_env)
    path = tmp_dir / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(adapted, sort_keys=False))
    # Podman names a Pod's volumes after the manifest's volumes (and ConfigMaps): a volume
    # left by an interrupted run would be reused, so none may exist before, none after.
    spec = adapted[-1]["spec"]["template"]["spec"]
    volume_names = {v["name"] for v in spec["volumes"]}
    volume_names |= {v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v}
    pod = PlayedPod(name, path, ports)

    def remove_volumes() -> None:
        existing = set(podman("volume", "ls", "-q").stdout.split())
        for volume in sorted(volume_names & existing):
            podman("volume", "rm", "--force", volume, check=False)

    remove_volumes()
    try:
        podman("kube", "play", "--network", "host", str(path), timeout=300)
        yield pod
    finally:
        podman("kube", "down", str(path), check=False, timeout=180)
        podman("pod", "rm", "--force", "--ignore", f"{name}-pod", check=False)
        remove_volumes()


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with suppress(Exception):
            last = predicate()
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not after {timeout}s (last: {last!r})")
