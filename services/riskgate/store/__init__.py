"""PostgreSQL: migrations, per-portfolio state and the stored outputs."""
