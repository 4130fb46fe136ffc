"""The Kubernetes manifests under deploy/k8s/, loaded for the offline deployment tests."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WORKLOADS = frozenset({"Deployment", "Job"})


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(kind: str) -> dict:
    found = [d for d in manifests() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def workloads() -> list[dict]:
    return [d for d in manifests() if d["kind"] in WORKLOADS]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return spec.get("initContainers", []) + spec["containers"]


def secret_files(doc: dict, container: dict) -> dict[str, tuple[str, str]]:
    """Every file the container sees from a Secret volume: its path -> (Secret, key). Only the
    keys a volume lists under `items` count, so a file is never assumed to exist."""
    volumes = {v["name"]: v["secret"] for v in pod_spec(doc).get("volumes", []) if "secret" in v}
    files = {}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"])
        for item in (secret or {}).get("items", []):
            files[f"{mount['mountPath']}/{item['path']}"] = (secret["secretName"], item["key"])
    return files
