"""riskgate.api: the HTTP API (FastAPI), a thin shell over the core and the control plane.

``create_app(ApiParts(...))`` builds the app; nothing happens at import time, and
``riskgate.api.wiring.real_parts`` builds the real parts for ``riskgate api``. The routes
(docs/api.md):

- ``POST /assess-risk`` (seed 000) and ``POST /v1/what-if``, against the live config, and
  with ``portfolio_id`` against that portfolio's live projected state;
- seed 003's ``/api/v2/policy/risk-profile``, ``/risk-mode`` and ``/risk-modes``, and
  ``/v1/profiles``;
- the config writes under ``/v1/config/``: trading state, halt, re-arm, limits, approvals;
- ``GET /v1/portfolios/{id}/risk`` and ``GET /v1/market/{ticker}``;
- ``/health``, ``/ready`` and ``/metrics``, anonymous.

Every write goes through the one ``ConfigWriter`` (docs/control-plane.md) as the API key's
name; reads need a viewer key once a keys file is configured.
"""

from riskgate.api.app import ApiParts, create_app

__all__ = ["ApiParts", "create_app"]
