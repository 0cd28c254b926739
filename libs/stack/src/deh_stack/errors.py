class StackError(Exception):
    """A problem the operator can fix; the message says what to do."""
