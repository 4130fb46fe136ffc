"""The control plane: config writes, their history, and who made them (docs/control-plane.md)."""
