"""Events rules, free of I/O: events and their audiences, registrations, waitlist policies, calendars."""
