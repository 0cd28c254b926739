"""One exception for every way a message can break its contract, listing every field error."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldError:
    location: str
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ContractError(ValueError):
    """A message that does not satisfy its contract (unknown type, missing or invalid field)."""

    def __init__(self, summary: str, errors: list[FieldError]) -> None:
        self.summary = summary
        self.errors = errors
        super().__init__(f"{summary}: " + "; ".join(str(error) for error in errors) if errors else summary)

    @classmethod
    def from_validation(cls, summary: str, error: ValidationError, prefix: str = "") -> ContractError:
        return cls(
            summary,
            [
                FieldError(
                    ".".join([prefix, *map(str, detail["loc"])]).strip(".") or "(root)", detail["msg"], detail["type"]
                )
                for detail in error.errors()
            ],
        )
