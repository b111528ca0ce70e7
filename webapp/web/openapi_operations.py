"""The operations of the OpenAPI document: query parameters, request bodies and replies per endpoint.

JSON request bodies are derived from the `field(...)` specs the views parse with (webapp.web.requests), closed
as the parser is; the limits beside them are the services' meaning checks, and query constraints come from the
services' own constants. tests/test_openapi.py holds the training bounds to TrainParams and the query enums
and ranges to the API; schemathesis (negative_data_rejection) checks that the API refuses what they exclude.
"""

from webapp.db.models import ROLES, SPLITS
from webapp.params import BACKBONES, TRAINABLE_CHOICES, describe_choices
from webapp.services.accounts import MAX_PASSWORD, MIN_PASSWORD
from webapp.services.photo_queries import FLAGS, IDS_PER_PAGE, MAX_IDS_PER_PAGE, MAX_PAGE, ORDERS
from webapp.services.photos import MAX_PER_PAGE
from webapp.services.predictions import SORTS
from webapp.services.runs import RUNS_PER_PAGE
from webapp.web import MAX_ID
from webapp.web import api_accounts as accounts
from webapp.web import api_classes as classes
from webapp.web import api_photos as photos
from webapp.web import api_runs as runs
from webapp.web import api_suggestions as suggestions
from webapp.web.openapi_schemas import ref
from webapp.web.requests import Field


def field_schema(spec: Field) -> dict:
    """The JSON Schema of one field spec of webapp.web.requests."""
    schema: dict = {"type": list(spec.kinds) if len(spec.kinds) > 1 else spec.kinds[0]}
    if spec.items:
        schema["items"] = {"type": spec.items}
    if spec.max_items is not None:
        schema["maxItems"] = spec.max_items
    return schema


def json_body(
    spec: dict[str, Field], required: tuple = (), limits: dict | None = None, optional: bool = False
) -> dict:
    """A JSON request body from the spec a view parses with; limits add the services' checks per field."""
    limits = limits or {}
    strays = (set(limits) | set(required)) - set(spec)
    if strays:  # the document must not describe fields the parser refuses
        raise KeyError(f"not in the view's field spec: {', '.join(sorted(strays))}")
    props = {name: {**field_schema(f), **limits.get(name, {})} for name, f in spec.items()}
    schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return {"required": not optional, "content": {"application/json": {"schema": schema}}}


SPLIT_NAMES = list(SPLITS)
# The meaning checks of the services behind each body (webapp.params.TrainParams, services.classes, accounts,
# photos).
TRAIN_LIMITS = {
    "epochs": {"minimum": 1, "maximum": 200},
    "batch_size": {"minimum": 1, "maximum": 512},
    "learning_rate": {"exclusiveMinimum": 0, "maximum": 1},
    "trainable_layers": {
        "minimum": 0,
        "maximum": max(choices[-1] for choices in TRAINABLE_CHOICES.values()),
        "description": "Per backbone: "
        + "; ".join(f"{name} {describe_choices(TRAINABLE_CHOICES[name])}" for name in BACKBONES)
        + " (GET /api/v1/runs/defaults)",
    },
    "backbone": {"enum": list(BACKBONES), "description": "Default: WEBAPP_BACKBONE"},
}
COLOR = "#[0-9a-fA-F]{6}"
NEW_CLASS_LIMITS = {
    "name": {"minLength": 1, "maxLength": 64, "description": "Unique; no slashes or control characters"},
    "color": {
        "pattern": f"^({COLOR})?$",
        "description": "Like #1a2b3c; null or empty: the next palette colour",
    },
    "key": {
        "minimum": 1,
        "maximum": 9,
        "pattern": "^[1-9]?$",
        "description": "Keyboard shortcut 1-9; null: the first free one; empty: none",
    },
}
CLASS_LIMITS = {
    **NEW_CLASS_LIMITS,
    "color": {"type": "string", "pattern": f"^{COLOR}$", "description": "Like #1a2b3c"},
    "key": {**NEW_CLASS_LIMITS["key"], "description": "Keyboard shortcut 1-9; null or empty: none"},
}
USER_LIMITS = {
    "name": {"minLength": 1, "maxLength": 64},
    "password": {"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD},
    "role": {"enum": list(ROLES), "default": "labeler"},
}
PHOTO_LIMITS = {
    "label": {"description": "A class name, or null to clear the label"},
    "split": {"enum": SPLIT_NAMES},
}
BULK_LIMITS = {
    **PHOTO_LIMITS,
    "ids": {"minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}},
    "action": {"enum": ["delete", "restore"]},
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
    query("group", {"anyOf": [whole(1, 2**63 - 1), {"const": ""}]}, "Only this photo group"),
    query(
        "order",
        choice(ORDERS, "newest"),
        "newest (default), oldest, uncertain (least confident first) or confident (most confident first): "
        "by the instant suggestion's confidence, else the active model's",
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
    "api_classes.deleted_classes": {"ok": {200: ok(many("DeletedClass"))}},
    "api_classes.restore_class": {"ok": {201: ok("ClassRestored", "Restored")}, "errors": (409,)},
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
        "query": [PAGE, per_page(RUNS_PER_PAGE)],
    },
    "api_runs.train_defaults": {
        "ok": {200: ok("TrainDefaults", "The default backbone and each one's settings")}
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
                choice([*SPLIT_NAMES, "unlabeled", "unseen"], "any"),
                "Only photos of this split (or unlabeled; unseen: test and unlabeled, never trained on)",
            ),
            query(
                "below",
                {"type": "number", "minimum": 0, "maximum": 1},
                "Only guesses less sure than this confidence (1 keeps them all)",
            ),
            query("label", {"type": "string"}, "Only photos predicted as this class"),
            query("true_label", {"type": "string"}, "Only photos labeled with this class"),
            query("wrong", FLAG, "1: only labeled photos the run got wrong"),
            query("unlabeled", FLAG, "1: only unlabeled photos"),
            query(
                "sort",
                choice(PREDICTION_SORTS, "confidence"),
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
    "api_suggestions.summary": {"ok": {200: ok("Suggestions")}},
    "api_suggestions.accept": {
        "ok": {200: ok("SuggestionsAccepted")},
        "body": json_body(
            suggestions.ACCEPT_FIELDS, optional=True, limits={"min_confidence": {"minimum": 0, "maximum": 1}}
        ),
    },
    "api_suggestions.undo": {
        "ok": {200: ok("SuggestionsUndone")},
        "body": json_body(
            suggestions.UNDO_FIELDS,
            required=("items",),
            limits={"items": {"minItems": 1, "items": ref("AcceptedItem")}},
        ),
    },
    "api_weights.weights": {"ok": {200: ok("Weights")}},
    "api_weights.upload_weights": {
        "ok": {202: ok("WeightsUpload", "Received; a worker loads it before it is kept")},
        "errors": (409, 413),
        "body": multipart("file", False, {"backbone": {"enum": ["vgg16", "mobilenet_v2"]}}),
    },
    "api_weights.upload_status": {"ok": {200: ok("WeightsUpload")}},
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
