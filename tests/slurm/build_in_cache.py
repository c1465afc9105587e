"""One array task of the shared-cache test: it needs the model of key KEY from the cache at ROOT,
builds it when absent (a two-second build of a 1 MB artefact), and records in ROOT/builds.log
which task built it and in ROOT/loads.log what every task read. BUILD_SECONDS: the build's length."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from mixfit.engines.cache import CacheEntry

root, key = Path(sys.argv[1]), sys.argv[2]
task = os.environ.get("SLURM_ARRAY_TASK_ID", str(os.getpid()))
entry = CacheEntry(key, root)
with entry.locked():
    files = entry.files()
    if files is None:
        with open(root / "builds.log", "a") as log:
            log.write(f"{task}\n")
        time.sleep(float(os.environ.get("BUILD_SECONDS", "2")))
        artefact = Path(tempfile.mkdtemp()) / "model.so"
        artefact.write_bytes(hashlib.sha256(key.encode()).digest() * 32768)
        files = entry.store([artefact], {"backend": "test"})
digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
with open(root / "loads.log", "a") as log:
    log.write(f"{task} {digest}\n")
