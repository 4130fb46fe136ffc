"""Prometheus metrics of the HTTP surface (module-level registry objects, no I/O at import)."""

from __future__ import annotations

from prometheus_client import Counter

REQUESTS = Counter("riskgate_api_requests_total", "HTTP requests answered",
                   ["method", "route", "status"])
ASSESSMENTS = Counter("riskgate_api_assessments_total", "Assessments answered",
                      ["endpoint", "result"])
INVALID = Counter("riskgate_api_invalid_requests_total", "Requests refused as invalid (422)",
                  ["route"])
CONFIG_WRITES = Counter("riskgate_api_config_writes_total",
                        "Config writes through the API, by route, key name and result",
                        ["route", "principal", "result"])
RATE_LIMITED = Counter("riskgate_api_rate_limited_total", "Requests refused with 429",
                       ["kind"])
