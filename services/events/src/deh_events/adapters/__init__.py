"""Thin adapters: MongoDB stores, the HTTP API, Kafka subscriptions and the jobs."""
