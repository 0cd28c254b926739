"""The membership service: the Community of Practice: members, organisations, the NAS network and squads."""
