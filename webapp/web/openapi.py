"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every /api/v1 route, built from the code itself.

Paths, methods and path parameters come from the app's url_map, summaries from the views' docstrings, JSON
request bodies from the `field(...)` specs the views parse with (webapp.web.requests), query constraints from
the services' own constants, and 403 from the views marked admin_only; the table below adds what only a
person can say (which replies and errors each route has). A route without an entry fails the build (and the
test that compares the document with the url_map), so the document cannot silently drift from the routes.
"""

import re

from flask import Blueprint, Flask, current_app, jsonify

from webapp.services.photo_queries import FLAGS, IDS_PER_PAGE, MAX_IDS_PER_PAGE, MAX_PAGE, ORDERS
from webapp.services.photos import MAX_PER_PAGE
from webapp.services.predictions import SORTS
from webapp.web import api_accounts as accounts
from webapp.web import api_classes as classes
from webapp.web import api_photos as photos
from webapp.web import api_runs as runs
from webapp.web.openapi_schemas import (
    BULK_LIMITS,
    CLASS_LIMITS,
    MAX_ID,
    NEW_CLASS_LIMITS,
    PHOTO_LIMITS,
    SCHEMAS,
    SPLIT_NAMES,
    TRAIN_LIMITS,
    USER_LIMITS,
    json_body,
    ref,
)

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


def query(name: str, schema: dict, description: str) -> dict:
    """A query parameter (never required: each has a default)."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def whole(low: int, high: int) -> dict:
    """A whole number from low to high."""
    return {"type": "integer", "minimum": low, "maximum": high}


def whole_arg(low: int, high: int, default: int) -> dict:
    """A whole-number query argument; empty (or absent) means its default."""
    return {"anyOf": [whole(low, high), {"const": ""}], "default": default}


FLAG = {"type": "string", "enum": list(FLAGS), "description": "1 or true, 0 or false; empty: 0"}


def choice(values, default: str) -> dict:
    """One of values; empty (or absent) means default."""
    return {"type": "string", "enum": ["", *values], "description": f"empty: {default}"}


PAGE = query("page", whole_arg(1, MAX_PAGE, 1), "Page number, from 1")
LABEL = query("label", {"type": "string"}, "Only photos of this class (a class name)")
PHOTO_FILTERS = [
    LABEL,
    query("split", choice(SPLIT_NAMES, "any"), "Only photos of this split"),
    query("unlabeled", FLAG, "1: only unlabeled photos"),
    query("trash", FLAG, "1: the photos in the trash instead of the others"),
    query(
        "order", choice(ORDERS, "newest"), "newest (default), oldest, or uncertain (least confident first)"
    ),
]


def per_page(default: int) -> dict:
    """The page size parameter."""
    return query("per_page", whole_arg(1, MAX_PER_PAGE, default), f"Items per page ({default} by default)")


def multipart(name: str, many: bool, extra: dict | None = None) -> dict:
    """A multipart/form-data body with file field(s) under name."""
    file = {"type": "string", "format": "binary"}
    props = {name: {"type": "array", "items": file, "minItems": 1} if many else file, **(extra or {})}
    schema = {"type": "object", "properties": props, "required": [name]}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def ok(schema: str | dict, description: str = "Done", headers: dict | None = None) -> dict:
    """A JSON reply."""
    body = {"schema": ref(schema) if isinstance(schema, str) else schema}
    reply = {"description": description, "content": {"application/json": body}}
    return {**reply, "headers": headers} if headers else reply


def many(name: str) -> dict:
    """A JSON list of component name."""
    return {"type": "array", "items": ref(name)}


PAGE_HEADERS = {
    "X-Total-Count": {"description": "How many runs there are", "schema": {"type": "integer"}},
    "Link": {"description": "RFC 8288 links to the first/prev/next/last pages", "schema": {"type": "string"}},
}
PREDICTION_SORTS = [*SORTS, "wrong_confident"]
# endpoint -> replies (status -> reply), extra errors, query parameters, request body.
OPERATIONS = {
    "api_classes.list_classes": {"ok": {200: ok(many("Class"))}},
    "api_classes.create_class": {
        "ok": {201: ok("Class", "Created")},
        "errors": (409,),
        "body": json_body(classes.CLASS_FIELDS, required=("name",), limits=NEW_CLASS_LIMITS),
    },
    "api_classes.update_class": {
        "ok": {200: ok("Class")},
        "errors": (409,),
        "body": json_body(classes.CLASS_FIELDS, limits=CLASS_LIMITS),
    },
    "api_classes.delete_class": {
        "ok": {200: ok("ClassDeleted")},
        "errors": (409,),
        "query": [query("force", FLAG, "1: delete even when photos have this label (they become unlabeled)")],
    },
    "api_classes.dataset": {"ok": {200: ok("Dataset")}},
    "api_photos.upload": {
        "ok": {
            200: ok("UploadResults", "One result per file (stored, duplicate or rejected)"),
            202: ok("UploadQueued", "A large zip is being imported in the background"),
        },
        "errors": (500,),
        "error_bodies": {413: "UploadFailed", 500: "UploadFailed", 503: "UploadFailed", 507: "UploadFailed"},
        "body": multipart("files", True, {"label": {"type": "string", "description": "label them all"}}),
    },
    "api_photos.list_photos": {"ok": {200: ok("PhotoPage")}, "query": [*PHOTO_FILTERS, PAGE, per_page(50)]},
    "api_photos.photo_ids": {
        "ok": {200: ok("PhotoIds")},
        "query": [
            *PHOTO_FILTERS,
            query("after", {"type": "string"}, "The `next` of the previous page"),
            query("limit", whole_arg(1, MAX_IDS_PER_PAGE, IDS_PER_PAGE), "Ids per page"),
        ],
    },
    "api_photos.get_photo": {"ok": {200: ok("Photo")}},
    "api_photos.update_photo": {
        "ok": {200: ok("Photo")},
        "body": json_body(photos.PHOTO_FIELDS, limits=PHOTO_LIMITS),
    },
    "api_photos.delete_photo": {"ok": {200: ok("Photo", "Moved to the trash")}},
    "api_photos.restore_photo": {"ok": {200: ok("Photo", "Back from the trash")}},
    "api_photos.bulk": {
        "ok": {200: ok("Updated")},
        "body": json_body(photos.BULK_FIELDS, required=("ids",), limits=BULK_LIMITS),
    },
    "api_photos.empty_trash": {"ok": {200: ok("Removed")}, "errors": (409,)},
    "api_imports.import_status": {"ok": {200: ok("Import")}},
    "api_runs.start_run": {
        "ok": {202: ok("Run", "Queued")},
        "errors": (409,),
        "error_bodies": {409: "RunConflict"},
        "body": json_body(runs.RUN_FIELDS, limits=TRAIN_LIMITS, optional=True),
    },
    "api_runs.list_runs": {
        "ok": {200: ok(many("Run"), "A page of runs, newest first", PAGE_HEADERS)},
        "query": [PAGE, per_page(runs.run_service.RUNS_PER_PAGE)],
    },
    "api_runs.get_run": {"ok": {200: ok("Run")}},
    "api_runs.cancel_run": {"ok": {200: ok("Run")}, "errors": (409,)},
    "api_runs.pin_run": {
        "ok": {200: ok("Run")},
        "errors": (409,),
        "body": json_body(runs.PIN_FIELDS, optional=True),
    },
    "api_runs.delete_run_files": {"ok": {200: ok("Run")}, "errors": (409, 500)},
    "api_runs.make_tflite": {
        "ok": {202: ok("Run", "Converting (or ready)")},
        "errors": (409,),
        "body": json_body({}, optional=True),
    },
    "api_runs.predictions": {
        "ok": {200: ok("PredictionPage")},
        "query": [
            PAGE,
            per_page(50),
            query(
                "split",
                choice([*SPLIT_NAMES, "unlabeled"], "any"),
                "Only photos of this split (or unlabeled)",
            ),
            query("label", {"type": "string"}, "Only photos predicted as this class"),
            query("true_label", {"type": "string"}, "Only photos labeled with this class"),
            query("wrong", FLAG, "1: only labeled photos the run got wrong"),
            query("unlabeled", FLAG, "1: only unlabeled photos"),
            query(
                "sort",
                {"enum": PREDICTION_SORTS},
                "confidence (default), -confidence, wrong_confident, newest",
            ),
        ],
    },
    "api_runs.predict": {
        "ok": {200: ok("PredictResult")},
        "errors": (409, 413, 500),
        "body": multipart("file", False),
    },
    "api_runs.storage_use": {"ok": {200: ok("Storage")}},
    "api_runs.csrf_token": {"ok": {200: ok("CsrfToken")}},
    "api_accounts.me": {"ok": {200: ok("User")}},
    "api_accounts.list_users": {"ok": {200: ok(many("User"))}},
    "api_accounts.add_user": {
        "ok": {201: ok("User", "Created")},
        "errors": (409,),
        "body": json_body(accounts.USER_FIELDS, required=("name", "password"), limits=USER_LIMITS),
    },
    "api_accounts.remove_user": {"ok": {200: ok("UserDeleted")}, "errors": (409,)},
    "api_accounts.list_tokens": {"ok": {200: ok(many("Token"))}},
    "api_accounts.new_token": {
        "ok": {201: ok("NewToken", "Created")},
        "body": json_body(accounts.TOKEN_FIELDS, optional=True, limits={"label": {"maxLength": 100}}),
    },
    "api_accounts.revoke_token": {"ok": {200: ok("TokenRevoked")}},
    "api_accounts.new_pairing": {"ok": {201: ok("Pairing", "A single-use sign-in link for a phone")}},
    "openapi.document": {"ok": {200: ok("OpenApiDocument", "This document")}},
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
