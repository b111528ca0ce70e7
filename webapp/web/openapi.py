"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every /api/v1 route, built from the code itself.

Paths, methods and path parameters come from the app's url_map, summaries from the views' docstrings, 403
from the views marked admin_only; webapp.web.openapi_operations adds each endpoint's parameters, body and
replies, webapp.web.openapi_schemas the shapes of the replies. An /api/v1 route without an entry there fails
the build (and the test that compares the document with the url_map), so the document cannot drift from the
routes unnoticed.
"""

import re

from flask import Blueprint, Flask, current_app, jsonify

from webapp.web import MAX_ID
from webapp.web.openapi_operations import OPERATIONS, ok, whole
from webapp.web.openapi_schemas import SCHEMAS

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
PREFIX = "/api/v1/"
UNSAFE = ("post", "put", "patch", "delete")
ERRORS = {
    400: "Bad input: the message names the parameter or field and what is wrong with it",
    401: "No signed-in session and no valid API token",
    403: "Signed in, but only an admin may do this",
    404: "There is no such object",
    409: "The request conflicts with the current state (the message says how)",
    413: "The body or a file is larger than the server accepts",
    500: "The server failed to do it; the details are in its log",
    503: "Busy, or a part it needs is not running; nothing was changed (Retry-After: when to try again)",
    507: "The disk is full; nothing was changed",
}


@bp.get("/openapi.json")
def document():
    """The OpenAPI 3.1 document of this API."""
    cached = current_app.extensions.get("webapp_openapi")
    if cached is None:
        cached = current_app.extensions["webapp_openapi"] = build_document(current_app)
    return jsonify(cached)


def build_document(app: Flask) -> dict:
    """The whole document for app's /api/v1 routes (KeyError when a route has no entry in OPERATIONS)."""
    paths: dict[str, dict] = {}
    for rule in sorted(api_rules(app), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path, params = openapi_path(rule.rule)
            operation = _operation(app, rule.endpoint, method.lower(), params)
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Photo labeling and training app",
            "version": "1",
            "description": "Upload photos, label them, train a classifier and read its predictions. Send "
            "`Authorization: Bearer <token>` (`flask --app webapp user token NAME` prints one).",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "responses": ERROR_REPLIES, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"bearerToken": []}, {"session": []}],
    }


SECURITY_SCHEMES = {
    "bearerToken": {"type": "http", "scheme": "bearer", "description": "An API token; no CSRF token needed"},
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "A browser's sign-in; its POST/PATCH/DELETE need the X-CSRFToken header too",
    },
}


def api_rules(app: Flask) -> list:
    """The url_map rules under /api/v1."""
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX)]


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """A werkzeug rule as an OpenAPI path template, and its path parameters."""
    params = []
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule):
        schema = whole(1, MAX_ID) if converter == "id" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule), params


def _operation(app: Flask, endpoint: str, method: str, path_params: list[dict]) -> dict:
    spec = OPERATIONS[endpoint]
    view = app.view_functions[endpoint]
    summary, _, details = (view.__doc__ or endpoint).strip().partition("\n")
    admin_action = getattr(view, "admin_action", None)
    operation = {
        "operationId": endpoint.replace(".", "_"),
        "tags": [endpoint.split(".")[0].removeprefix("api_")],
        "summary": summary.strip(),
        "parameters": path_params + spec.get("query", []),
        "responses": {
            str(code): reply
            for code, reply in {**spec["ok"], **_errors(spec, method, path_params, admin_action)}.items()
        },
    }
    description = " ".join(details.split())
    if admin_action:
        description = f"Admins only (to {admin_action}). {description}".strip()
    if description:
        operation["description"] = description
    if "body" in spec:
        operation["requestBody"] = spec["body"]
    return operation


def _errors(spec: dict, method: str, path_params: list, admin_action: str | None) -> dict:
    codes = {401, *spec.get("errors", ())}
    if admin_action:
        codes.add(403)
    if path_params:
        codes.add(404)
    if spec.get("query") or spec.get("body") or path_params:
        codes.add(400)
    if method in UNSAFE:  # a write may find the database busy or the disk full
        codes |= {503, 507}
    if spec.get("body"):
        codes.add(413)
    bodies = spec.get("error_bodies", {})
    return {code: _error_reply(code, bodies.get(code, "Error")) for code in sorted(codes)}


def _error_reply(code: int, schema: str) -> dict:
    if schema == "Error":
        return {"$ref": f"#/components/responses/Error{code}"}
    reply = ok(schema, ERRORS[code])
    return {**reply, "headers": RETRY_AFTER} if code == 503 else reply


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 0}}}
ERROR_REPLIES = {
    f"Error{code}": {**ok("Error", words), **({"headers": RETRY_AFTER} if code == 503 else {})}
    for code, words in ERRORS.items()
}
