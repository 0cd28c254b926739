"""Thin adapters of the practices service: MongoDB store, OpenSearch index, HTTP, Kafka, links."""
