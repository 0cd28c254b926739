"""Thin adapters of the membership service: MongoDB store, HTTP routes, Kafka handlers."""
