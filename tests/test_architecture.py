"""The process boundary is a checked contract: import-linter's contracts in pyproject.toml hold."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is not installed (pip install -r tests/requirements.txt)"
    result = subprocess.run([lint, "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_the_web_side_loads_no_tensorflow_or_worker_code():
    code = (
        "import sys, tempfile; from webapp import create_app; "
        "app = create_app({'INSTANCE_PATH': tempfile.mkdtemp(), 'BACKBONE_WEIGHTS': 'none', "
        "'SECRET_KEY': 'x'}); "
        "c = app.test_client(); [c.get(p) for p in ('/', '/train', '/gallery', '/api/v1/runs', '/healthz')]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') "
        "or m.startswith(('webapp.worker', 'webapp.ml'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
