"""A small real disk for disk-full tests: a tmpfs mounted for the test (needs root; skipped where it cannot).

Import the fixture where needed: `from tests.disk import small_disk`. `small_disk(size_kib)` mounts a fresh
tmpfs of that size and returns its path; `fill(path, leave_bytes)` fills it until about leave_bytes are free.
"""

import contextlib
import os
import shutil
import subprocess
import uuid

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """A factory of small tmpfs folders (unmounted after the test)."""
    mounted = []

    def mount(size_kib: int):
        path = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def free_bytes(path) -> int:
    """Bytes free on the file system holding path."""
    return shutil.disk_usage(path).free


def fill(path, leave_bytes: int) -> None:
    """Write a filler file so that about leave_bytes stay free (tmpfs counts whole 4 KiB pages)."""
    filler = path / "filler.bin"
    with open(filler, "ab") as handle:
        while free_bytes(path) > leave_bytes + 4096:
            chunk = min(1 << 20, free_bytes(path) - leave_bytes)
            try:
                handle.write(b"\0" * chunk)
                handle.flush()
            except OSError:
                break
    with contextlib.suppress(OSError):
        os.sync()
