"""Membership rules, free of I/O: members and their consent, squads and their selection."""
