"""riskgate: a streaming risk gate for trading pipelines."""

__version__ = "0.1.0"
