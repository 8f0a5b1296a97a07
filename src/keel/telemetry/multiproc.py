"""The directory where ``keel serve --workers N`` keeps every worker's metric values.

prometheus_client's multiprocess mode writes each worker's values to files in
``PROMETHEUS_MULTIPROC_DIR``; a scrape served by any worker reads them all. The variable must be
set before a worker imports prometheus_client, so ``keel serve`` sets it before it starts them:
to an empty directory of its own, removed at exit, or — when the operator set it — to theirs (which
must exist, as prometheus_client requires), emptied of old files first: values left by an earlier
run would be added in.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .exposition import MULTIPROC_ENV

__all__ = ["prepare_multiproc_dir"]


def prepare_multiproc_dir() -> Path:
    """Set up the directory (see the module's docstring) and return it."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()
        return path
    path = Path(tempfile.mkdtemp(prefix="keel-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
