"""The Prometheus configuration and alert rules under deploy/prometheus/, checked by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.promql import ROOT, RULE_FILES, metric_names, referenced_metrics, rule_exprs

pytestmark = pytest.mark.unit

PROM = ROOT / "deploy/prometheus"
RUNBOOK = ROOT / "docs/runbook.md"
REQUIRED_ALERTS = {
    "RiskgatePartitionHalted", "RiskgateDeadLetterRateHigh", "RiskgateConsumerLagGrowing",
    "RiskgateEmergency", "RiskgateWorkerNotReady", "RiskgateNoWorker", "RiskgateConfigRefused",
}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail (never skip) when it is missing, since the check would then prove nothing."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package "
                    "(.ci/run does: apt-get install prometheus)")
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=120,
                          cwd=PROM)


def alerts() -> list[dict]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


class TestPromtool:
    def test_rule_files_pass_promtool_check_rules(self):
        """promtool accepts every rule file: valid PromQL, templates and durations."""
        assert RULE_FILES, "no rule files under deploy/prometheus/rules"
        result = promtool("check", "rules", *RULE_FILES)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_compose_scrape_config_passes_promtool_check_config(self):
        """promtool accepts prometheus.yml and the rule files it loads."""
        result = promtool("check", "config", "prometheus.yml")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 rule files found" in result.stdout

    def test_rule_unit_tests_pass(self):
        """The alerts fire on the series of tests/riskgate_test.yml, and only when expected."""
        result = promtool("test", "rules", "tests/riskgate_test.yml")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_rule_unit_tests_cover_halted_and_emergency(self):
        """The promtool unit tests exercise at least the halted-partition and EMERGENCY alerts."""
        tests = yaml.safe_load((PROM / "tests/riskgate_test.yml").read_text())["tests"]
        tested = {case["alertname"] for t in tests for case in t["alert_rule_test"]}
        assert {"RiskgatePartitionHalted", "RiskgateEmergency"} <= tested


class TestRules:
    def test_every_required_alert_is_defined(self):
        """Halted partition, DLQ rate, growing lag, EMERGENCY, not ready, gone, config refused."""
        assert {rule["alert"] for rule in alerts()} >= REQUIRED_ALERTS

    def test_a_gone_worker_is_caught_with_absent(self):
        """With no worker target left at all, only absent() still yields a series to alert on."""
        rule = next(r for r in alerts() if r["alert"] == "RiskgateNoWorker")
        assert rule["expr"].startswith("absent(")

    def test_every_alert_names_its_runbook_section(self):
        """Each alert's runbook annotation points at an existing heading of docs/runbook.md."""
        have = anchors(RUNBOOK.read_text())
        for rule in alerts():
            link = rule["annotations"]["runbook"]
            path, _, anchor = link.partition("#")
            assert path == "docs/runbook.md" and anchor in have, (rule["alert"], link)

    def test_worker_job_name_matches_the_scrape_configs(self):
        """up{job=...} in the rules selects the job both scrape configurations define."""
        jobs = {re.search(r'job="([^"]+)"', e).group(1) for p in RULE_FILES for e in rule_exprs(p)
                if 'job="' in e}
        for name in ("prometheus.yml", "prometheus-kubernetes.yml"):
            config = yaml.safe_load((PROM / name).read_text())
            assert jobs == {c["job_name"] for c in config["scrape_configs"]}, name
            assert config["rule_files"] == ["rules/*.yml"], name


class TestMetricNames:
    def test_names_come_out_of_functions_matchers_ranges_and_groupings(self):
        """Only metric names are extracted, not functions, labels, durations or keywords."""
        expr = ('histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x="b(c)"}[5m]))) '
                '> 1e3 and on (p) b_total offset 5m unless ignoring (q) group_left c')
        assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c"}

    def test_rules_and_dashboard_reference_the_new_gauges(self):
        """The dashboard and rules query lag, emergency level, end-to-end age and config version."""
        names = set(referenced_metrics())
        assert {"riskgate_consumer_lag", "riskgate_emergency_level",
                "riskgate_end_to_end_seconds_bucket", "riskgate_config_version",
                "riskgate_partition_halted", "riskgate_ready", "up"} <= names
