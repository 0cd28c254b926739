"""Practice library rules, free of I/O: the review workflow, quality criteria, search requests."""
