"""riskgate.api: the synchronous HTTP what-if surface (FastAPI), a thin shell over the core.

``create_app(clock=time.time, profiles_state=None)`` builds the app; nothing happens at
import time. The endpoints:

- ``POST /assess-risk``: seed 000's form, through ``riskgate.compat.RiskOrchestrator``;
- ``POST /v1/what-if``: the native wire form, through ``riskgate.core.assess``;
- ``GET /v1/profiles``, ``GET``/``PUT /v1/profiles/active``: the profile this process uses;
- ``/health``, ``/ready``, ``/metrics``.

The streaming workers switch profiles through the ``risk.config`` topic; a switch made here
is local to this API process and is not published (see ``riskgate.api.profiles``).
"""

from riskgate.api.app import create_app
from riskgate.api.profiles import ActiveProfile

__all__ = ["ActiveProfile", "create_app"]
