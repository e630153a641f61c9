"""Words for a request that failed validation, without repeating what the caller sent.

Pydantic's messages sometimes quote the input: a discriminator's unknown value ("Input tag
'...' found using 'kind'"), a character of a malformed UUID, an unknown key as part of a field's
location. Under ``auth`` every value may be a private key or a client secret pasted into the
wrong field, so there only messages known to be built from the schema alone are kept, and
unknown keys are not named; anywhere, a discriminator's value is never repeated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Error types whose message pydantic builds from the schema (limits, types), never the input.
_SCHEMA_ONLY_MESSAGES = frozenset(
    {
        "missing",
        "extra_forbidden",
        "string_type",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "literal_error",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "union_tag_not_found",
        "bool_type",
        "int_type",
        "list_type",
    }
)
_SECRET_SECTIONS = frozenset({"auth"})


def describe(error: Mapping[str, Any]) -> dict[str, str]:
    """``{"field", "problem"}`` for one of ``RequestValidationError.errors()``."""
    loc: Sequence[object] = error.get("loc", ())
    kind = str(error.get("type", ""))
    secret_section = any(part in _SECRET_SECTIONS for part in loc)
    if kind == "extra_forbidden" and secret_section:
        loc = [*loc[:-1], "<unknown field>"]
    field = ".".join(str(part) for part in loc)
    if kind == "union_tag_invalid":
        expected = (error.get("ctx") or {}).get("expected_tags", "")
        return {"field": field, "problem": f"must be one of {expected}"}
    if secret_section and kind not in _SCHEMA_ONLY_MESSAGES:
        return {"field": field, "problem": f"is not valid ({kind})"}
    return {"field": field, "problem": str(error.get("msg", ""))}
