"""Audit replay: re-decide stored decisions from the stored evidence and compare (docs/replay.md)."""
