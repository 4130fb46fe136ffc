"""The deployment files, checked offline: Kubernetes manifests against the API schemas that
kubernetes-validate ships, the KEDA ScaledObject against a schema of our own, and
docker-compose.yml and the Dockerfile against the Docker-free deploy/local scripts."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from riskgate.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
# The oldest Kubernetes minor the manifests promise to work on.
KUBERNETES_VERSION = "1.31"
SCALED_OBJECT_SCHEMA = json.loads(
    (Path(__file__).parent / "k8s_schemas/keda-scaledobject-v1alpha1.json").read_text())
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(kind: str) -> dict:
    found = [d for d in manifests() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def containers(doc: dict) -> list[dict]:
    spec = doc["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def scaled_object_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCALED_OBJECT_SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


class TestKubernetesSchemas:
    def test_core_kinds_pass_the_kubernetes_api_schemas(self):
        """Every non-CRD manifest is valid, with no unknown field, for the Kubernetes version."""
        core = [d for d in manifests() if d["apiVersion"] != "keda.sh/v1alpha1"]
        assert {d["kind"] for d in core} >= {"ConfigMap", "Job", "Deployment", "Service",
                                              "PodDisruptionBudget"}
        for doc in core:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    def test_strict_validation_refuses_an_unknown_field(self):
        """A misspelt field fails the check, so the check above can fail."""
        doc = one("Deployment")
        bad = {**doc, "spec": {**doc["spec"], "replica": 2}}
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)

    def test_scaled_object_passes_its_schema(self):
        """The ScaledObject matches the KEDA v1alpha1 schema kept in tests/unit/k8s_schemas."""
        assert scaled_object_errors(one("ScaledObject")) == []

    @pytest.mark.parametrize("change, why", [
        (lambda t: t["metadata"].update(lagThreshold=500), "a number where KEDA wants a string"),
        (lambda t: t["metadata"].pop("topic"), "no topic"),
        (lambda t: t["metadata"].update(lagTreshold="500"), "a misspelt key"),
        (lambda t: t.update(type="kafka", metadata={}), "no metadata at all"),
    ])
    def test_scaled_object_schema_refuses_a_broken_trigger(self, change, why):
        """The own schema catches the trigger mistakes KEDA would only report at run time."""
        doc = json.loads(json.dumps(one("ScaledObject")))
        change(doc["spec"]["triggers"][0])
        assert scaled_object_errors(doc), why


class TestScaling:
    def test_max_replicas_equal_the_partition_count(self):
        """KEDA never runs more workers than the decisions topic has partitions."""
        config = one("ConfigMap")["data"]
        spec = one("ScaledObject")["spec"]
        assert spec["maxReplicaCount"] == int(config["RISKGATE_PARTITIONS"]) == 8
        assert spec["minReplicaCount"] >= 1  # someone must see an EMERGENCY

    def test_lag_trigger_watches_the_workers_group_and_topic(self):
        """The trigger reads the worker group's lag on the decisions topic, on its brokers."""
        config = one("ConfigMap")["data"]
        so = one("ScaledObject")
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == config["RISKGATE_GROUP_ID"]
        assert meta["topic"] == config.get("RISKGATE_TOPICS__PROPOSED", Settings().topics.proposed)
        assert meta["bootstrapServers"] == config["RISKGATE_BOOTSTRAP_SERVERS"]
        assert so["spec"]["scaleTargetRef"]["name"] == one("Deployment")["metadata"]["name"]

    def test_budget_and_service_select_the_worker_pods(self):
        """The PodDisruptionBudget and the metrics Service select exactly the worker's pods."""
        deployment = one("Deployment")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert one("Service")["spec"]["selector"].items() <= pod_labels.items()
        assert "replicas" not in deployment["spec"]  # the HPA owns it


class TestWorkerPod:
    def test_every_container_has_requests_and_limits(self):
        """CPU and memory are requested and limited for every container of every workload."""
        for doc in manifests():
            if doc["kind"] not in {"Deployment", "Job"}:
                continue
            for c in containers(doc):
                for part in ("requests", "limits"):
                    assert {"cpu", "memory"} <= c["resources"][part].keys(), (doc["kind"], c["name"], part)

    def test_secrets_come_as_files_never_as_env(self):
        """No secret is put in the environment by the pod spec; the worker's are mounted
        read-only, and the entrypoint reads the file that is mounted."""
        for doc in manifests():
            if doc["kind"] in {"Deployment", "Job"}:
                for c in containers(doc):
                    refs = [e for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
                    refs += [e for e in c.get("envFrom", []) if "secretRef" in e]
                    assert refs == [], c["name"]
        pod = one("Deployment")["spec"]["template"]["spec"]
        secret_volumes = {v["name"] for v in pod["volumes"] if "secret" in v}
        (worker,) = pod["containers"]
        mounts = {m["name"]: m for m in worker["volumeMounts"]}
        assert secret_volumes and all(mounts[v]["readOnly"] for v in secret_volumes)
        files = re.findall(r"cat (\S+)\)", " ".join(worker["args"]))
        assert files and all(any(f.startswith(mounts[v]["mountPath"] + "/") for v in secret_volumes)
                             for f in files)

    def test_probes_and_port_match_the_http_port(self):
        """Liveness is /health and readiness /ready on RISKGATE_HTTP_PORT, the Service's port."""
        config = one("ConfigMap")["data"]
        (worker,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
        (port,) = worker["ports"]
        assert port["containerPort"] == int(config["RISKGATE_HTTP_PORT"])
        assert worker["livenessProbe"]["httpGet"]["path"] == "/health"
        assert worker["readinessProbe"]["httpGet"]["path"] == "/ready"
        (service_port,) = one("Service")["spec"]["ports"]
        assert service_port["targetPort"] == port["name"] == service_port["name"] == "metrics"

    def test_prometheus_job_keeps_this_service(self):
        """prometheus-kubernetes.yml keeps the endpoints of this Service's metrics port."""
        config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus-kubernetes.yml").read_text())
        keep = next(r for r in config["scrape_configs"][0]["relabel_configs"] if r["action"] == "keep")
        assert keep["regex"] == f"{one('Service')['metadata']['name']};metrics"

    def test_images_name_the_package_version_and_no_registry(self):
        """Images are riskgate:<pyproject version>, with no registry host in the name."""
        for doc in manifests():
            if doc["kind"] in {"Deployment", "Job"}:
                for c in containers(doc):
                    assert c["image"] == f"riskgate:{VERSION}"


def kafka_sh_properties() -> dict[str, str]:
    """The server.properties that deploy/local/kafka.sh writes (its heredoc), as key -> value."""
    script = (ROOT / "deploy/local/kafka.sh").read_text()
    body = re.search(r'cat >"\$CONF" <<EOF\n(.*?)\nEOF\n', script, flags=re.DOTALL).group(1)
    pairs = [line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


class TestCompose:
    # Addresses and paths differ by design: containers need their own listeners and data dir.
    PER_HOST = {"listeners", "advertised.listeners", "listener.security.protocol.map",
                "controller.quorum.voters", "log.dirs"}

    def test_kafka_image_is_the_version_the_local_scripts_resolve(self):
        """The compose broker runs the Kafka version that deploy/local/kafka/pom.xml pins."""
        pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
        version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
        assert version == "3.9.2"
        assert compose()["services"]["kafka"]["image"] == f"apache/kafka:{version}"

    def test_kafka_settings_are_kafka_sh_settings(self):
        """Every broker setting of kafka.sh is in compose with the same value, and no other."""
        env = compose()["services"]["kafka"]["environment"]
        from_compose = {k[len("KAFKA_"):].lower().replace("_", "."): str(v) for k, v in env.items()
                        if k.startswith("KAFKA_") and k != "KAFKA_HEAP_OPTS"}
        local = {k: v for k, v in kafka_sh_properties().items() if k not in self.PER_HOST}
        shared = {k: v for k, v in from_compose.items() if k not in self.PER_HOST}
        assert shared == local

    def test_cluster_id_and_heap_are_kafka_sh_defaults(self):
        """The same fixed cluster id and the same heap as kafka.sh."""
        script = (ROOT / "deploy/local/kafka.sh").read_text()
        env = compose()["services"]["kafka"]["environment"]
        assert env["CLUSTER_ID"] == re.search(r"^CLUSTER_ID=(\S+)$", script, re.MULTILINE).group(1)
        heap = re.search(r"KAFKA_HEAP=\$\{KAFKA_HEAP:-([^}]+)\}", script).group(1)
        assert env["KAFKA_HEAP_OPTS"] == heap

    def test_postgres_is_15_with_postgres_sh_database(self):
        """PostgreSQL 15, the same role, password, database and max_connections as postgres.sh."""
        script = (ROOT / "deploy/local/postgres.sh").read_text()
        pg = compose()["services"]["postgres"]
        assert pg["image"] == "postgres:15"
        local = dict(re.findall(r"^(DB_NAME|DB_USER|DB_PASSWORD)=(\S+)$", script, re.MULTILINE))
        env = pg["environment"]
        assert (env["POSTGRES_DB"], env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == (
            local["DB_NAME"], local["DB_USER"], local["DB_PASSWORD"])
        connections = re.search(r"max_connections = (\d+)", script).group(1)
        assert f"max_connections={connections}" in pg["command"]

    def test_prometheus_and_grafana_are_provisioned_from_deploy(self):
        """Prometheus mounts deploy/prometheus, Grafana the provisioning and dashboards, and the
        Grafana datasource points at the compose Prometheus."""
        services = compose()["services"]
        assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
        grafana = services["grafana"]["volumes"]
        assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
        assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
        source = yaml.safe_load(
            (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
        (ds,) = source["datasources"]
        assert ds["url"] == "http://prometheus:9090" and ds["type"] == "prometheus"
        provider = yaml.safe_load(
            (ROOT / "deploy/grafana/provisioning/dashboards/riskgate.yml").read_text())
        assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"

    def test_images_carry_no_registry_host(self):
        """No image names a registry: the first path part never has a dot or a port."""
        for name, service in compose()["services"].items():
            first = service["image"].split("/")[0]
            assert "/" not in service["image"] or not re.search(r"[.:]", first), name
        assert compose()["services"]["worker"]["image"] == f"riskgate:{VERSION}"

    def test_dockerfile_runs_python_311_as_the_manifests_uid(self):
        """The image is Python 3.11 and runs as uid 10001, which the Kubernetes pods require."""
        dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
        assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
        assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
        pod = one("Deployment")["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"]) == (10001, 10001)
