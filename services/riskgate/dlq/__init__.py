"""Dead-letter tools: list, show and redrive what the worker refused (docs/dlq.md)."""
