"""The shapes of the /api/v1 replies as JSON Schema (the OpenAPI document's components), beside present.py.

Every key a reply holds today is required, so a reply that loses one breaks the document; objects stay open
(additionalProperties allowed) so that adding a key later does not break clients that follow the document.
"""

from webapp.db.models import ROLES, SPLITS
from webapp.params import BACKBONES

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
COUNT = {"type": "integer", "minimum": 0}
TIME = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri-reference"}
NUMBERS = {"type": "object", "additionalProperties": NUM}


def ref(name: str) -> dict:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    """schema or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def text_or_null(**extra) -> dict:
    """A string (or null)."""
    return {"type": ["string", "null"], **extra}


def obj(props: dict, optional: tuple[str, ...] = (), description: str | None = None) -> dict:
    """An object whose properties are all required but the optional ones."""
    schema = {"type": "object", "properties": props, "required": [k for k in props if k not in optional]}
    return {**schema, "description": description} if description else schema


def array(items: dict) -> dict:
    """A list of items."""
    return {"type": "array", "items": items}


ERROR = obj({"error": STR}, description="What went wrong, in plain words (some errors add data)")
CLASS = obj(
    {
        "id": INT,
        "name": STR,
        "key": {"type": ["integer", "null"], "minimum": 1, "maximum": 9},
        "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
        "count": COUNT,
    }
)
DATASET = obj(
    {
        "classes": array({"allOf": [ref("Class"), obj({"train": COUNT, "val": COUNT, "test": COUNT})]}),
        "unlabeled": COUNT,
        "total": COUNT,
        "trash": COUNT,
        "imbalance": obj({"warning": BOOL, "message": text_or_null()}),
        "train_problems": {**array(STR), "description": "Why Train is refused now (none: it can train)"},
        "held_out_notes": {
            **array(STR),
            "description": "Classes with no validation or test photos, and why",
        },
    }
)
GUESS = obj({"label": STR, "confidence": NUM, "probabilities": NUMBERS, "run_id": INT})
PHOTO = obj(
    {
        "id": INT,
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "filename": STR,
        "width": INT,
        "height": INT,
        "label": text_or_null(),
        "split": {"enum": [*SPLITS, None]},
        "thumbnail_url": URL,
        "display_url": URL,
        "created_at": TIME,
        "deleted": BOOL,
        "prediction": nullable(ref("Guess")),
        "suggestion": nullable(ref("Suggestion")),
        "group": {"type": ["integer", "null"], "description": "near-duplicate group: its first photo's id"},
    }
)
PHOTO_PAGE = obj({"photos": array(ref("Photo")), "total": COUNT, "page": INT, "per_page": INT})
PHOTO_IDS = obj(
    {
        "ids": array(INT),
        "total": COUNT,
        "next": text_or_null(description="the `after` of the next page; null on the last"),
        "limit": INT,
    }
)
UPLOAD_RESULT = obj(
    {
        "filename": STR,
        "status": {"enum": ["stored", "duplicate", "rejected"]},
        "photo": nullable(ref("Photo")),
        "error": text_or_null(),
        "duplicate_of": {"type": ["integer", "null"]},
        "retryable": BOOL,
        "near_duplicate_of": {"type": ["integer", "null"], "description": "its near-duplicate"},
        "note": text_or_null(description='e.g. "near-duplicate of #12"'),
    }
)
IMPORT_RESULT = obj(
    {
        "filename": text_or_null(),
        "status": text_or_null(),
        "photo_id": {"type": ["integer", "null"]},
        "error": text_or_null(),
        "duplicate_of": {"type": ["integer", "null"]},
        "retryable": BOOL,
        "near_duplicate_of": {"type": ["integer", "null"], "description": "its near-duplicate"},
        "note": text_or_null(description='e.g. "near-duplicate of #12"'),
    }
)
IMPORT = obj(
    {
        "id": INT,
        "url": URL,
        "filename": STR,
        "label": text_or_null(),
        "status": {"enum": ["queued", "running", "done", "failed"]},
        "progress": obj({"done": COUNT, "total": COUNT}),
        "counts": {
            **obj({"stored": COUNT, "duplicate": COUNT, "rejected": COUNT}),
            "additionalProperties": COUNT,
        },
        "results": array(ref("ImportResult")),
        "error": text_or_null(),
        "created_at": TIME,
        "started_at": TIME,
        "finished_at": TIME,
    }
)
UPLOAD = obj({"results": array(ref("UploadResult"))})
UPLOAD_QUEUED = {
    "allOf": [ref("UploadResults"), obj({"import": ref("Import"), "imports": array(ref("Import"))})],
    "description": "A large zip became a background import: follow import.url",
}
UPLOAD_FAILED = {
    "allOf": [ref("Error"), ref("UploadResults")],
    "description": "Nothing was stored, for one cause: the error and each file's result",
}
PROGRESS = obj(
    {
        "stage": STR,
        "epoch": INT,
        "epochs": {"type": ["integer", "null"]},
        "batch": INT,
        "batches": INT,
        "history": array({"type": "object"}),
    }
)
RUN = obj(
    {
        "id": INT,
        "status": {"enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
        "params": {"type": "object", "properties": {"epochs": INT, "batch_size": INT}},
        "progress": PROGRESS,
        "metrics": {
            "type": ["object", "null"],
            "properties": {
                "accuracy": {"type": ["number", "null"]},
                "per_class": {"type": "object"},
                "confusion_matrix": array(array(INT)),
                "labels": array(STR),
            },
        },
        "error": text_or_null(),
        "failure": {
            "type": ["object", "null"],
            "description": "A failed or cancelled run's cause in one sentence and the fix that fits",
            "properties": {
                "kind": {"enum": ["cancelled", "weights", "disk_full", "stopped", "error"]},
                "summary": STR,
                "fix": {"enum": ["upload_weights", "free_disk", "train_again", None]},
            },
        },
        "created_at": TIME,
        "started_at": TIME,
        "finished_at": TIME,
        "duration_seconds": {"type": ["number", "null"]},
        "dataset": {"type": "object"},
        "warnings": array(STR),
        "weights": STR,
        "backbone": {"enum": list(BACKBONES)},
        "image_size": INT,
        "active": BOOL,
        "pinned": BOOL,
        "curves_url": {"type": ["string", "null"], "format": "uri-reference"},
        "has_model_files": BOOL,
        "model_bytes": COUNT,
        "timings": {"type": ["object", "null"]},
        "cancel_requested": BOOL,
        "tflite": obj(
            {
                "state": {"enum": ["none", "converting", "ready", "failed"]},
                "error": text_or_null(),
                "url": URL,
                "quantised_url": {"anyOf": [URL, {"type": "null"}]},
            }
        ),
    }
)
BACKBONE_DEFAULTS = obj(
    {
        "epochs": INT,
        "batch_size": INT,
        "learning_rate": NUM,
        "trainable_layers": INT,
        "max_trainable_layers": INT,
        "trainable_layers_choices": STR,
    }
)
TRAIN_DEFAULTS = obj(
    {
        "backbone": {"enum": list(BACKBONES)},
        "backbones": obj({name: BACKBONE_DEFAULTS for name in BACKBONES}),
    }
)
RUN_CONFLICT = {"allOf": [ref("Error"), obj({"run": ref("Run")})], "description": "The run in progress"}
PREDICTION = obj(
    {
        "photo_id": INT,
        "label": STR,
        "confidence": NUM,
        "probabilities": NUMBERS,
        "true_label": text_or_null(),
        "correct": {"type": ["boolean", "null"]},
        "split": {"enum": [*SPLITS, None]},
        "filename": STR,
        "thumbnail_url": URL,
        "display_url": URL,
    }
)
PREDICTION_PAGE = obj(
    {"predictions": array(ref("Prediction")), "total": COUNT, "page": INT, "per_page": INT, "run_id": INT}
)
USER = obj({"id": INT, "name": STR, "role": {"enum": list(ROLES)}, "created_at": TIME})
TOKEN = obj({"id": INT, "user": STR, "label": STR, "prefix": STR, "created_at": TIME, "last_used_at": TIME})
NEW_TOKEN = {
    "allOf": [ref("Token"), obj({"token": STR})],
    "description": "The token itself is shown this once (only its hash is stored)",
}
PAIRING = obj(
    {
        "url": {"type": "string", "format": "uri"},
        "minutes": INT,
        "reachable": BOOL,
        "qr_svg": {"type": "string", "pattern": "^data:image/svg\\+xml"},
        "hint": text_or_null(),
    }
)
STORAGE = obj(
    {"photos_bytes": COUNT, "features_bytes": COUNT, "models_bytes": COUNT, "measured_seconds_ago": NUM}
)
WEIGHTS_UPLOAD = obj(
    {
        "id": INT,
        "backbone": {"enum": list(BACKBONES)},
        "filename": STR,
        "size_bytes": COUNT,
        "status": {"enum": ["queued", "running", "succeeded", "failed"]},
        "error": text_or_null(),
        "created_at": TIME,
        "finished_at": TIME,
        "url": URL,
    }
)
WEIGHTS_STATUS = obj(
    {
        "backbone": {"enum": list(BACKBONES)},
        "setting": {"enum": ["imagenet", "none", "file"]},
        "state": {"enum": ["uploaded", "cached", "download", "failed", "random", "file", "missing"]},
        "message": STR,
        "bytes": COUNT,
        "file": STR,
        "download_url": {"type": "string", "format": "uri"},
        "last_error": text_or_null(),
        "upload": {"oneOf": [ref("WeightsUpload"), {"type": "null"}]},
    }
)
WEIGHTS = obj({"setting": {"enum": ["imagenet", "none", "file"]}, "backbones": array(WEIGHTS_STATUS)})

SUGGESTION = obj(
    {"label": STR, "confidence": NUM},
    description="The instant suggestion (a small model retrained after each label change; not a run)",
)
ACCEPTED_ITEM = obj({"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}, "label": STR})
SUGGESTIONS = obj(
    {
        "state": obj(
            {
                "status": {"enum": ["waiting", "ready", "no_features"]},
                "updated_at": {"type": ["number", "null"], "description": "Unix time of the last round"},
                "labeled": {"type": ["integer", "null"]},
                "photos": {"type": ["integer", "null"]},
                "seconds": {"type": ["number", "null"], "description": "How long the last round took"},
            }
        ),
        "unlabeled": COUNT,
        "acceptable": {
            "type": "object",
            "additionalProperties": COUNT,
            "description": "Unlabeled photos whose suggestion is at least this sure, per threshold",
        },
        "accepted": COUNT,
        "changed": COUNT,
        "accept_rate": {"type": ["number", "null"], "description": "accepted / (accepted + changed)"},
    }
)

SCHEMAS = {
    "Error": ERROR,
    "Class": CLASS,
    "Dataset": DATASET,
    "Guess": GUESS,
    "Photo": PHOTO,
    "PhotoPage": PHOTO_PAGE,
    "PhotoIds": PHOTO_IDS,
    "UploadResult": UPLOAD_RESULT,
    "UploadResults": UPLOAD,
    "UploadQueued": UPLOAD_QUEUED,
    "UploadFailed": UPLOAD_FAILED,
    "ImportResult": IMPORT_RESULT,
    "Import": IMPORT,
    "Run": RUN,
    "RunConflict": RUN_CONFLICT,
    "TrainDefaults": TRAIN_DEFAULTS,
    "Prediction": PREDICTION,
    "PredictionPage": PREDICTION_PAGE,
    "PredictResult": GUESS,
    "User": USER,
    "Token": TOKEN,
    "NewToken": NEW_TOKEN,
    "Pairing": PAIRING,
    "Storage": STORAGE,
    "Weights": WEIGHTS,
    "WeightsUpload": WEIGHTS_UPLOAD,
    "ClassDeleted": obj(
        {
            "deleted": INT,
            "unlabeled": COUNT,
            "restore_id": {**INT, "description": "POST /classes/deleted/{restore_id}/restore undoes it"},
            "keys": {**NUMBERS, "description": "The classes whose shortcut keys moved: name -> new key"},
        }
    ),
    "DeletedClass": obj(
        {
            "id": INT,
            "name": STR,
            "key": {"type": ["integer", "null"]},
            "color": STR,
            "photos": {**COUNT, "description": "How many photos lost this label"},
            "deleted_at": TIME,
        }
    ),
    "ClassRestored": obj({"class": ref("Class"), "relabeled": COUNT, "skipped": COUNT}),
    "Updated": obj({"updated": COUNT}),
    "Suggestion": SUGGESTION,
    "AcceptedItem": ACCEPTED_ITEM,
    "Suggestions": SUGGESTIONS,
    "SuggestionsAccepted": obj({"accepted": COUNT, "items": array(ref("AcceptedItem"))}),
    "SuggestionsUndone": obj({"undone": COUNT}),
    "Removed": obj({"removed": COUNT}),
    "UserDeleted": obj({"deleted": INT}),
    "TokenRevoked": obj({"revoked": INT}),
    "CsrfToken": obj({"csrf_token": STR}),
    "OpenApiDocument": obj(
        {"openapi": {"type": "string", "pattern": "^3\\.1\\."}, "paths": {"type": "object"}}
    ),
}
