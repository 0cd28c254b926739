"""The practices service: the library of good practices, its review and multilingual search."""
