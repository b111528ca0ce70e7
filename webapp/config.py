"""Configuration defaults and the per-instance secret key."""

import os
import secrets
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "INSTANCE_PATH": str(REPO_ROOT / "instance"),
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "QUEUE_URL": None,  # None: SqliteHuey in the instance folder; "redis://..." for Redis
    "BACKBONE": "vgg16",  # backbone of new runs: vgg16 or mobilenet_v2 (a Train request may pick the other)
    "BACKBONE_WEIGHTS": "imagenet",
    "IMAGE_SIZE": 224,
    "CLASSES": "beer,wings",
    "MAX_IMAGE_PIXELS": 100_000_000,
    "MAX_UPLOAD_BYTES": 50 * 1024 * 1024,
    "MAX_ZIP_BYTES": 2 * 1024 * 1024 * 1024,
    "MAX_FORM_PARTS": 10_000,  # files in one upload request (Flask's 1000 is low for a folder of photos)
    "PREDICT_TIMEOUT": 10,  # seconds a predict request waits for the worker before 503 + Retry-After
    "PREDICT_CONCURRENCY": 3,  # predict requests that may wait for the worker at once
    # Web server threads: with 8, a crowd uploading held every thread and pages queued behind (benchmarks/
    # bench_load.py: page p95 0.5 s); uploads are gated apart (UPLOAD_CONCURRENCY), reads use the rest.
    "WEB_THREADS": 32,
    "UPLOAD_CONCURRENCY": 8,  # upload requests processed at once (each may decode a 100 MP photo)
    "WORKER_NICE": 10,  # worker processes' CPU niceness: background work yields to the web server
    "STORAGE_CACHE_SECONDS": 60,  # /api/v1/storage walks the folders at most this often
    "MIN_FREE_BYTES": 1024**3,  # /healthz says "degraded" below this much free disk in the instance folder
    "WORKER_STALE_SECONDS": 60,
    "KEEP_MODEL_RUNS": 3,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "WTF_CSRF_TIME_LIMIT": None,
    "SEND_FILE_MAX_AGE_DEFAULT": 0,
    # Accounts: sign-in attempts per name and per address, phone pairing links' life, where the server listens
    # (set by `python -m webapp`; the Host check and the phone's address follow it).
    "LOGIN_LIMIT": "5 per 15 minutes",
    "PAIR_MINUTES": 10,
    "LISTEN_HOST": None,
    "LISTEN_PORT": None,
    "TRUSTED_HOSTS": None,  # extra Host names, e.g. WEBAPP_TRUSTED_HOSTS="a.example,b.example"
    "PROXY_FIX": False,
    "PERMANENT_SESSION_LIFETIME": 30 * 24 * 3600,
    "SESSION_COOKIE_SAMESITE": "Lax",
}

INT_KEYS = (
    "IMAGE_SIZE",
    "MAX_IMAGE_PIXELS",
    "MAX_UPLOAD_BYTES",
    "MAX_ZIP_BYTES",
    "PREDICT_TIMEOUT",
    "PREDICT_CONCURRENCY",
    "WEB_THREADS",
    "UPLOAD_CONCURRENCY",
    "WORKER_NICE",
    "STORAGE_CACHE_SECONDS",
    "MIN_FREE_BYTES",
    "WORKER_STALE_SECONDS",
    "KEEP_MODEL_RUNS",
    "PAIR_MINUTES",
)


def load_secret_key(instance_path: Path) -> str:
    """Return the instance's secret key, generating and keeping it on first start.

    The key is written to a private temporary file (mkstemp: 0600 from the moment it exists, a unique name per
    process) and linked to its final name, which fails if another process got there first; that process's key
    is then read. So the key is never readable by others, never half written, and one key wins."""
    path = instance_path / "secret_key"
    if not path.exists():
        _create_secret_key(path)
    if path.stat().st_mode & 0o077:  # an older version created it with the umask's permissions
        path.chmod(0o600)
    return path.read_text().strip()


def _create_secret_key(path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # atomic, and unlike rename it never replaces a key another process linked
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def normalise(config: dict) -> None:
    """Coerce settings that may arrive as strings from the environment."""
    for key in INT_KEYS:
        config[key] = int(config[key])
    config["PROXY_FIX"] = str(config["PROXY_FIX"]).lower() in ("1", "true", "yes", "on")
    if config["IMAGE_SIZE"] < 32:
        raise ValueError("WEBAPP_IMAGE_SIZE must be at least 32 (the backbones' smallest input)")
    config["BACKBONE"] = str(config["BACKBONE"]).strip().lower()
    if config["BACKBONE"] not in ("vgg16", "mobilenet_v2"):
        raise ValueError(f"WEBAPP_BACKBONE must be vgg16 or mobilenet_v2 (got {config['BACKBONE']!r})")
