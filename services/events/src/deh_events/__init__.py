"""The events service: workshops, hackathons, webinars and meetings: scheduling, registration, waitlist, attendance."""
