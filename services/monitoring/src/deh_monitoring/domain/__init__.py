"""Monitoring rules, free of I/O: what an event says as an activity record and which indicator cells it counts in."""
