"""The hub event contracts (CloudEvents envelope and message models)."""
