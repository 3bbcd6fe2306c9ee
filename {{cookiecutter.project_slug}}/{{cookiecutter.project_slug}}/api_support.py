"""What every endpoint of the tenant REST API shares: its limits on input.

- `LimitOffsetPagination` (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]): `limit` from 1 to MAX_LIMIT
  (default PAGE_SIZE), `offset` from 0 to OFFSET_MAX; any other value is a 400 naming it.
- `JSONParser` (first of REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): a JSON body nested deeper than
  JSON_MAX_DEPTH is a 400 (a parse error), never a RecursionError.
- `query_params_validate`: validates a list's query parameters with a filter serializer; a bad value is a
  400 naming it and what is accepted. The same serializer documents the parameters in the OpenAPI schema
  (`extend_schema(parameters=[FilterSerializer])`).
- `ApiDocsPermission` (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]): the schema and docs are for
  authenticated members of the host's tenant unless settings.API_DOCS_PUBLIC.

Imported by Django REST framework's settings while rest_framework.views loads, so this module imports
no views (the docs views live in `api.py`). May import rest_framework and `errors`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from rest_framework import pagination, parsers, permissions, serializers
from rest_framework.exceptions import ErrorDetail, ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.utils import json

from .errors import shown

if TYPE_CHECKING:
    # Not at run time: rest_framework.views imports this module through its settings.
    from rest_framework.views import APIView

MAX_LIMIT = 100
# PostgreSQL's OFFSET is a bigint; past the row count a page is empty anyway.
OFFSET_MAX = 2**63 - 1
# No payload of this API nests deeper than 2 levels; 32 leaves room for clients that wrap payloads.
JSON_MAX_DEPTH = 32
_DIGITS = re.compile(r"[0-9]{1,20}")


def _bounded_int(name: str, raw: str, low: int, high: int) -> int:
    """`raw` (a query parameter's value) as an int within [low, high]; else ValidationError under `name`."""
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        message = f"{name} {shown(raw)} is not accepted; expected a whole number from {low} to {high}."
        raise ValidationError({name: [message]})
    return value


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """`?limit=` (1 to MAX_LIMIT, default settings PAGE_SIZE) and `?offset=` (0 to OFFSET_MAX, default 0).

    A missing or empty parameter takes its default; any other value outside the range, or not a plain
    decimal number, raises ValidationError (a 400 naming the value and the accepted range).
    """

    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param, "")
        if raw == "":
            return self.default_limit
        return _bounded_int(self.limit_query_param, raw, 1, MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param, "")
        if raw == "":
            return 0
        return _bounded_int(self.offset_query_param, raw, 0, OFFSET_MAX)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        bounds: dict[str, dict[str, Any]] = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": OFFSET_MAX, "default": 0},
        }
        parameters: list[dict[str, Any]] = []
        for parameter in super().get_schema_operation_parameters(view):
            schema: Any = parameter.get("schema") or {}
            parameters.append({**parameter, "schema": {**schema, **bounds.get(str(parameter["name"]), {})}})
        return parameters


def json_depth_check(data: object, *, max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise ParseError when `data` (parsed JSON) has lists/objects nested more than `max_depth` levels.

    Walks iteratively, so checking never recurses itself; `1` is depth 0, `[1]` depth 1, `{"a": [1]}` depth 2.
    """
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth + 1 > max_depth:
                raise _too_deep(max_depth)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def _too_deep(max_depth: int) -> ParseError:
    return ParseError(
        f"JSON parse error - the body nests arrays/objects more than {max_depth} levels deep; "
        f"at most {max_depth} levels are accepted."
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit: deeper than JSON_MAX_DEPTH levels is a ParseError (400).

    Without it `[[[[…` 100,000 levels deep makes the json module raise RecursionError: a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            text = codecs.getreader(encoding)(stream).read()
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise _too_deep(JSON_MAX_DEPTH) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        json_depth_check(data)
        return data


def _received(messages: list[Any], value: object) -> list[Any]:
    return [
        ErrorDetail(f"{message} Received: {shown(value)}.", code=getattr(message, "code", None)) for message in messages
    ]


def query_params_validate(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validate the query parameters `serializer_class` declares; return its validated data (absent ones omitted
    unless the field has a default).

    Parameters the serializer does not declare are ignored; a repeated one counts with its last value.
    Raises ValidationError (a 400) whose messages name each bad value, e.g.
    `{"status": ["\"bogus\" is not a valid choice; expected one of: confirmed, cancelled. Received: 'bogus'."]}`.
    """
    names = list(serializer_class().fields.keys())
    params = {name: request.query_params[name] for name in names if name in request.query_params}
    serializer = serializer_class(data=params)
    if not serializer.is_valid():
        errors = {
            name: _received(messages, params[name]) if name in params and isinstance(messages, list) else messages
            for name, messages in serializer.errors.items()
        }
        raise ValidationError(errors)
    return dict(serializer.validated_data)


def choices_message(choices: Mapping[str, object] | list[str]) -> dict[str, Any]:
    """error_messages for a ChoiceField that name the accepted values (`...; expected one of: a, b.`)."""
    accepted = ", ".join(str(choice) for choice in choices)
    # DRF formats the message with the received value as `input`.
    return {"invalid_choice": '"{input}" is not a valid choice; expected one of: ' + accepted + "."}


BOOLEAN_MESSAGES: dict[str, Any] = {
    "invalid": "Must be a valid boolean: expected true or false (also accepted: 1/0, yes/no, on/off)."
}


class ApiDocsPermission(permissions.BasePermission):
    """The OpenAPI schema and Swagger UI: for authenticated requests (a member's session on the tenant's host, or
    an API key of that tenant), or for anyone when settings.API_DOCS_PUBLIC is True (read at each request)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(getattr(settings, "API_DOCS_PUBLIC", False) or request.user.is_authenticated)
