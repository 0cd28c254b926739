"""The hub's service platform: what every service repeats, written once."""
