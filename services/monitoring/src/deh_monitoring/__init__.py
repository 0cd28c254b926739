"""The monitoring service: Action Plan monitoring: every domain event projected into OpenSearch for dashboards."""
