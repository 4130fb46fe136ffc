"""Kafka plumbing: topic administration and client construction."""
