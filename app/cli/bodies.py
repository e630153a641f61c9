"""Command options as the API's request bodies, checked by the same models as the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError

Body = TypeVar("Body", bound=BaseModel)


def valid_body(model: type[Body], values: Mapping[str, object]) -> Body:
    """The options as a request body, or a usage error naming the fields (never their values:
    an option may hold a secret read from stdin)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise typer.BadParameter(f"not valid: {fields}") from None
