"""The hub's local stack: real Kafka, OpenSearch and MongoDB-protocol servers started from
package registries, plus the four services, all bound to 127.0.0.1 under one folder."""
