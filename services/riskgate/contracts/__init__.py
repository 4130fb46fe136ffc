"""The versioned wire contract: one pydantic model per message on every topic, the codec that
turns record bytes into them, and the JSON Schema / AsyncAPI export (``riskgate.contracts.export``,
not imported here so ``python -m`` runs it cleanly). docs/contracts.md is the contract."""

from riskgate.contracts.decode import decode, decode_proposed, encode
from riskgate.contracts.models import *  # noqa: F403
from riskgate.contracts.models import __all__ as _models

__all__ = ["decode", "decode_proposed", "encode", *_models]
