"""One request parser: JSON bodies and their fields, checked strictly, with the field named in every 400.

Malformed JSON, a body that is not an object, deep nesting, lone surrogates, NUL characters, unknown fields
and wrongly typed values are refused here, before any service runs; services check meanings (ranges, names).
Query-string numbers and flags are read by webapp.services.photo_queries (services take the query arguments).
"""

import json
import math
from dataclasses import dataclass
from typing import Any

from flask import request

from webapp.services.errors import InvalidInput, TooLarge
from webapp.services.photo_queries import flag_arg

MAX_DEPTH = 32
MAX_JSON_BYTES = 1024 * 1024  # a bulk request of 10,000 ids is about 70 KB


@dataclass(frozen=True)
class Field:
    """What one body field may hold: JSON kinds (string, integer, number, boolean, array, null)."""

    kinds: tuple[str, ...]
    items: str | None = None  # the kind every array item must have
    max_items: int | None = None


def field(*kinds: str, items: str | None = None, max_items: int | None = None) -> Field:
    """A field spec: field("string", "null"), field("array", items="integer", max_items=10_000)."""
    return Field(kinds, items, max_items)


def json_body(spec: dict[str, Field], required: bool = True) -> dict[str, Any]:
    """The request's JSON object checked against spec; {} for an empty body when not required."""
    raw = _raw_json()
    if not raw.strip():
        if required:
            raise InvalidInput("Send a JSON object in the body (Content-Type: application/json)")
        return {}
    body = _decode(raw)
    if not isinstance(body, dict):
        raise InvalidInput(f"The body must be a JSON object, not {_kind(body)}")
    for name in body:
        check_text("a field name", name)
    unknown = sorted(set(body) - set(spec))
    if unknown:
        known = ", ".join(sorted(spec))
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)} (this request takes {known})")
    for name, value in body.items():
        _check(name, value, spec[name])
    return body


def check_query_text() -> None:
    """Refuse query arguments a database cannot compare with (NUL: PostgreSQL refuses the statement)."""
    for name, value in request.args.items(multi=True):
        check_text(name[:40], value)


def query_flag(name: str) -> bool:
    """A yes/no query parameter (1, true, 0, false or absent); anything else is refused with its name."""
    return flag_arg(request.args, name)


def _raw_json() -> bytes:
    # The content type is checked before the body is read: a form body (curl -d '{') may already have been
    # parsed away by the CSRF check, and would then look like an empty body and mean "all defaults".
    declared = request.content_length or 0
    if declared > MAX_JSON_BYTES:
        raise TooLarge(f"A JSON body can be at most {MAX_JSON_BYTES // 1024} KB")
    if not request.is_json:
        if declared or request.form or request.files or request.get_data(cache=True).strip():
            raise InvalidInput("Send the body as JSON with Content-Type: application/json")
        return b""
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge(f"A JSON body can be at most {MAX_JSON_BYTES // 1024} KB")
    return raw


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The body is not valid UTF-8 text") from None
    if _nesting(text) > MAX_DEPTH:
        raise InvalidInput(f"The JSON body is nested too deeply (at most {MAX_DEPTH} levels)")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidInput(f"The body is not valid JSON: {exc}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _nesting(text: str) -> int:
    # A cheap upper bound (brackets inside strings count too) that stops a RecursionError before parsing.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _matches(value: Any, kinds: tuple[str, ...]) -> bool:
    kind = _kind(value)
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _check(name: str, value: Any, spec: Field) -> None:
    if not _matches(value, spec.kinds):
        raise InvalidInput(f"{name} must be {' or '.join(spec.kinds)}, not {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number")
    if isinstance(value, str):
        check_text(name, value)
    if isinstance(value, list):
        if spec.max_items is not None and len(value) > spec.max_items:
            raise InvalidInput(f"{name} may hold at most {spec.max_items:,} items")
        if spec.items and not all(_matches(item, (spec.items,)) for item in value):
            raise InvalidInput(f"every item of {name} must be {spec.items}")


def check_text(name: str, value: str) -> str:
    """Text a database can store: no NUL characters and no lone surrogates."""
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode text (it holds a lone surrogate)") from None
    return value
