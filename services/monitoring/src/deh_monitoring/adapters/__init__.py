"""Thin adapters: OpenSearch indexes, the projection from Kafka, the HTTP API."""
