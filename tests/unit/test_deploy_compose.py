"""docker-compose.yml and the Dockerfile, checked offline against the Docker-free deploy/local
scripts and the Kubernetes manifests."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml
from tests.support.k8s import ROOT, VERSION, one

pytestmark = pytest.mark.unit


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

    def test_riskgate_gets_its_database_password_beside_the_url(self):
        """The riskgate services' database URL names no password; it is a setting of its own."""
        env = compose()["services"]["worker"]["environment"]
        assert urlsplit(env["RISKGATE_DATABASE_URL"]).password is None
        assert env["RISKGATE_DATABASE_PASSWORD"] == compose()["services"]["postgres"][
            "environment"]["POSTGRES_PASSWORD"]
        assert compose()["services"]["init"]["environment"] == env
