"""Files shipped with the stack: POM templates, the MongoDB launcher, logging and security policies."""

from importlib import resources


def text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text()
