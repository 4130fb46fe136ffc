"""The metric names that the Grafana dashboard and the Prometheus rules under deploy/ query."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
# Made by Prometheus itself for every scrape target, never by a worker.
SCRAPE_SERIES = frozenset({"up"})

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "group_left", "group_right",
                       "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """The metric names in one PromQL expression: every bare word that is neither a function
    or aggregation (followed by '('), a keyword, nor inside a string, label matcher, range or
    grouping clause."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for m in _WORD.finditer(text):
        if m.group().lower() in _KEYWORDS or text[m.end():].lstrip().startswith("("):
            continue
        names.add(m.group())
    return names


def dashboard_exprs(path: Path) -> list[str]:
    """Every query of a dashboard, rows' nested panels included."""
    def walk(panels: list[dict]) -> list[str]:
        found = []
        for panel in panels:
            found += [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
            found += walk(panel.get("panels", []))
        return found
    return walk(json.loads(path.read_text())["panels"])


def rule_exprs(path: Path) -> list[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def referenced_metrics() -> dict[str, set[str]]:
    """Metric name -> the files that query it, over every dashboard and rule file."""
    found: dict[str, set[str]] = {}
    sources = [(p, dashboard_exprs(p)) for p in DASHBOARDS] + [(p, rule_exprs(p)) for p in RULE_FILES]
    for path, exprs in sources:
        for expr in exprs:
            for name in metric_names(expr):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found
