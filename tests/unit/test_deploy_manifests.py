"""The Kubernetes manifests, checked offline: the core kinds against the API schemas that
kubernetes-validate ships, the KEDA ScaledObject and TriggerAuthentication against schemas of
our own, and the secrets each pod gets against the settings that read them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from tests.support.k8s import (
    ROOT,
    VERSION,
    containers,
    manifests,
    one,
    pod_spec,
    secret_files,
    workloads,
)

from riskgate.settings import Settings
from riskgate.settings_secrets import SECRET_FILE_FIELDS

pytestmark = pytest.mark.unit

# The oldest Kubernetes minor the manifests promise to work on.
KUBERNETES_VERSION = "1.31"
SCHEMAS = Path(__file__).parent / "k8s_schemas"


def schema_errors(doc: dict, schema_file: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema_file).read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def scaled_object_errors(doc: dict) -> list[str]:
    return schema_errors(doc, "keda-scaledobject-v1alpha1.json")


def trigger_auth_errors(doc: dict) -> list[str]:
    return schema_errors(doc, "keda-triggerauthentication-v1alpha1.json")


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

    def test_trigger_authentication_passes_its_schema(self):
        """The TriggerAuthentication matches the KEDA v1alpha1 schema in tests/unit/k8s_schemas."""
        assert trigger_auth_errors(one("TriggerAuthentication")) == []

    @pytest.mark.parametrize("change, why", [
        (lambda d: d["spec"]["secretTargetRef"][0].update(parameter="passwd"), "no such parameter"),
        (lambda d: d["spec"]["secretTargetRef"][0].pop("key"), "no Secret key"),
        (lambda d: d["spec"].update(secretTargetRefs=d["spec"].pop("secretTargetRef")),
         "a misspelt spec field"),
        (lambda d: d["spec"]["secretTargetRef"][0].update(name="Riskgate_Keda"), "not a Secret name"),
    ])
    def test_trigger_authentication_schema_refuses_a_broken_reference(self, change, why):
        """The own schema catches the reference mistakes KEDA would only report when it polls."""
        doc = json.loads(json.dumps(one("TriggerAuthentication")))
        change(doc)
        assert trigger_auth_errors(doc), why


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
        """No secret is put in the environment by the pod spec, and riskgate runs directly,
        reading its secret files itself (no shell entrypoint in between)."""
        for doc in manifests():
            if doc["kind"] in {"Deployment", "Job"}:
                for c in containers(doc):
                    # A pod's own name (fieldRef) is no secret; a secretKeyRef, or anything
                    # else taken from outside the spec, is refused.
                    refs = [e for e in c.get("env", []) if "valueFrom" in e
                            and set(e["valueFrom"]) != {"fieldRef"}]
                    refs += [e for e in c.get("envFrom", []) if "secretRef" in e]
                    assert refs == [], c["name"]
                    assert c["command"][0] == "riskgate" and "args" not in c, c["name"]
        (worker,) = one("Deployment")["spec"]["template"]["spec"]["containers"]
        assert worker["command"] == ["riskgate", "worker"]

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


# Each workload's Kafka principal (docs/security.md): its Secret is riskgate-kafka-<principal>.
PRINCIPALS = {"riskgate-worker": "worker", "riskgate-topics": "admin"}
FILE_SETTING = re.compile(r"^RISKGATE_(\w+)_FILE$")
# The settings whose value is a secret, wherever it comes from.
SECRET_SETTINGS = frozenset(
    f"RISKGATE_{name.upper()}" for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation))


def scram_users() -> set[str]:
    """The SCRAM users deploy/local/kafka-acls.sh creates, the principals of docs/security.md."""
    script = (ROOT / "deploy/local/kafka-acls.sh").read_text()
    return set(re.search(r"^SCRAM_USERS=\(([^)]*)\)$", script, re.MULTILINE).group(1).split())


def config_map_leaks(data: dict[str, str]) -> list[str]:
    """What in a ConfigMap's data is, or carries, a secret."""
    leaks = [k for k in data if k in SECRET_SETTINGS or k.removesuffix("_FILE") in SECRET_SETTINGS]
    leaks += [k for k, v in data.items() if "://" in v and urlsplit(v).password is not None]
    return leaks + [k for k, v in data.items() if "-----BEGIN" in v]


def env_value(entry: dict) -> str:
    """An env entry's value; a field of the pod (its name) stands as ``<fieldPath>``."""
    if "value" in entry:
        return entry["value"]
    return f"<{entry['valueFrom']['fieldRef']['fieldPath']}>"


def pod_settings(doc: dict, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings this workload's container builds, with every file its Secret volumes
    project written under `tmp` as `<Secret>:<key>`; any other path stays as written."""
    (container,) = pod_spec(doc)["containers"]
    files = secret_files(doc, container)
    for path, (secret, key) in files.items():
        (tmp / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path.lstrip("/")).write_text(f"{secret}:{key}\n")
    env = {**one("ConfigMap")["data"], **{e["name"]: env_value(e) for e in container.get("env", [])}}
    for name in [n for n in os.environ if n.upper().startswith("RISKGATE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp / value.lstrip("/")) if value in files else value)
    return Settings()


class TestSecrets:
    def test_every_file_setting_is_a_projected_secret_file(self):
        """Each RISKGATE_*_FILE names a secret setting and a file that a read-only Secret volume
        with mode 0440 projects into that container."""
        for doc in workloads():
            volumes = {v["name"]: v for v in pod_spec(doc)["volumes"] if "secret" in v}
            for c in containers(doc):
                files = secret_files(doc, c)
                wanted = [e for e in c.get("env", []) if FILE_SETTING.match(e["name"])]
                for e in wanted:
                    setting = FILE_SETTING.match(e["name"]).group(1).lower()
                    assert setting in SECRET_FILE_FIELDS, e["name"]
                    assert e["value"] in files, (doc["metadata"]["name"], e["name"])
                mounts = [m for m in c["volumeMounts"] if m["name"] in volumes]
                assert all(m["readOnly"] for m in mounts), c["name"]
                assert all(volumes[m["name"]]["secret"]["defaultMode"] == 0o440 for m in mounts)
        (worker,) = pod_spec(one("Deployment"))["containers"]
        assert {e["name"] for e in worker["env"]} >= {
            "RISKGATE_KAFKA_SASL_USERNAME_FILE", "RISKGATE_KAFKA_SASL_PASSWORD_FILE",
            "RISKGATE_DATABASE_PASSWORD_FILE"}

    def test_no_config_map_carries_a_secret(self):
        """No ConfigMap holds a secret setting, a URL with a password, or PEM text."""
        config_maps = [d for d in manifests() if d["kind"] == "ConfigMap"]
        assert config_maps
        for doc in config_maps:
            assert config_map_leaks(doc["data"]) == [], doc["metadata"]["name"]

    @pytest.mark.parametrize("data", [
        {"RISKGATE_DATABASE_URL": "postgresql://riskgate:hunter2@postgres:5432/riskgate"},
        {"RISKGATE_KAFKA_SASL_PASSWORD": "hunter2"},
        {"RISKGATE_DATABASE_PASSWORD_FILE": "/etc/pw"},
        {"RISKGATE_KAFKA_SSL_CAFILE": "-----BEGIN PRIVATE KEY-----"},
    ])
    def test_a_leaking_config_map_is_caught(self, data):
        """The leak check finds a password in a URL, a secret setting, and PEM text."""
        assert config_map_leaks(data) == list(data)

    def test_each_workload_logs_in_as_its_own_principal(self):
        """The worker is `worker`, the topics job `admin`, KEDA `keda`: each reads
        riskgate-kafka-<principal>, and each is a principal the local ACL script creates."""
        for doc in workloads():
            principal = PRINCIPALS[doc["metadata"]["name"]]
            (c,) = pod_spec(doc)["containers"]
            env = {e["name"]: env_value(e) for e in c["env"]}
            secret, key = secret_files(doc, c)[env["RISKGATE_KAFKA_SASL_USERNAME_FILE"]]
            assert (secret, key) == (f"riskgate-kafka-{principal}", "username")
        refs = one("TriggerAuthentication")["spec"]["secretTargetRef"]
        assert {r["name"] for r in refs} == {"riskgate-kafka-keda"}
        assert set(PRINCIPALS.values()) | {"keda"} <= scram_users()

    @pytest.mark.parametrize("name", sorted(PRINCIPALS))
    def test_each_pod_builds_production_settings(self, name, tmp_path, monkeypatch):
        """The ConfigMap and the pod's files give valid settings: SASL_SSL with SCRAM-SHA-512,
        verified TLS to PostgreSQL, and the secrets read from the mounted files."""
        doc = next(d for d in workloads() if d["metadata"]["name"] == name)
        s = pod_settings(doc, tmp_path, monkeypatch)
        kafka = f"riskgate-kafka-{PRINCIPALS[name]}"
        assert (s.kafka_security_protocol, s.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
        assert s.kafka_sasl_username == f"{kafka}:username"
        assert s.kafka_sasl_password.get_secret_value() == f"{kafka}:password"
        assert s.kafka_ssl_cafile.read_text() == f"{kafka}:ca.crt\n"
        assert s.database_sslmode == "verify-full"
        assert s.database_sslrootcert.read_text() == "riskgate-postgres:ca.crt\n"
        if name == "riskgate-worker":
            assert s.database_password.get_secret_value() == "riskgate-postgres:password"

    def test_keda_logs_in_with_sasl_and_tls_from_its_secret(self):
        """The lag trigger authenticates through the TriggerAuthentication, which gives KEDA's
        Kafka scaler its SASL mode, user, password, TLS switch and CA from one Secret."""
        (trigger,) = one("ScaledObject")["spec"]["triggers"]
        auth = one("TriggerAuthentication")
        assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"],
                                                "kind": "TriggerAuthentication"}
        params = [r["parameter"] for r in auth["spec"]["secretTargetRef"]]
        assert sorted(params) == ["ca", "password", "sasl", "tls", "username"]
        # Given once: KEDA would read them from the trigger metadata too.
        assert not {"sasl", "tls"} & trigger["metadata"].keys()
