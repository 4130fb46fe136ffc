"""The real parts of ``riskgate api``: the live inputs from the broker, the portfolio state
from PostgreSQL, the keys file, and the control plane's ``ConfigWriter``."""

from __future__ import annotations

from riskgate.api.app import ApiParts
from riskgate.api.auth import KeyRing
from riskgate.api.live import LiveInputs
from riskgate.api.portfolios import StoredPortfolios
from riskgate.control.model import ConfigWriter
from riskgate.settings import Settings


def config_writer(settings: Settings) -> ConfigWriter | None:
    """The real writer, or None (every write answers 503) where this build has none."""
    try:
        from riskgate.control import writer
    except ImportError:
        return None
    return writer.ConfigWriter(settings)


def real_parts(settings: Settings) -> ApiParts:
    return ApiParts(inputs=LiveInputs(settings),
                    portfolios=StoredPortfolios(settings.database_url),
                    writer=config_writer(settings), keys=KeyRing(settings.api_keys_file))
