"""The compiled-model cache: one entry per (Stan code, backend, backend version), built once.

An entry is a folder of build artefacts plus ``manifest.json``, written last and atomically, that
records each artefact's SHA-256. An entry whose artefacts don't match their manifest (a build killed
half-way, a full disk) is treated as absent and rebuilt. A lock per entry makes concurrent
processes that need the same model build it once, on one machine or on many sharing the cache's
filesystem (array tasks on a cluster's nodes): a lease file created atomically (O_EXCL, which NFS,
Lustre and GPFS honour, unlike flock, which some mounts keep per node), refreshed while its holder
runs, and taken over once unrefreshed for LEASE_SECONDS (a holder killed at its time limit).
A complete entry is never replaced, so even two builders that overlap leave readers whole files.
The manifest's modification time is the entry's last use (a build or a load), which
``mixfit cache`` shows and ``clear --older-than`` goes by.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import filelock
import platformdirs

from mixfit import interrupt

MANIFEST = "manifest.json"
LEASE_SECONDS = 60


def cache_root() -> Path:
    root = os.environ.get("MIXFIT_CACHE_DIR") or platformdirs.user_cache_dir("mixfit")
    return Path(root).expanduser()


def model_key(code: str, backend: str, version: str) -> str:
    digest = hashlib.sha256()
    for part in (code, backend, version):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


class CacheEntry:
    def __init__(self, key: str, root: Path | None = None):
        self.root = root or cache_root()
        self.key = key
        self.path = self.root / "models" / key

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold this entry's lock; other processes wanting the same model wait here."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with filelock.SoftFileLease(str(locks / f"{self.key}.lease"), lease_duration=LEASE_SECONDS):
            yield

    def files(self) -> list[Path] | None:
        """The entry's artefacts if the entry is complete and intact, else None."""
        manifest = _manifest(self.path / MANIFEST)
        if manifest is None:
            return None
        artefacts = manifest["files"]
        paths = []
        for name, checksum in artefacts.items():
            path = self.path / name
            if not path.is_file() or _sha256(path) != checksum:
                return None
            paths.append(path)
        with suppress(OSError):  # a read-only cache still loads
            os.utime(self.path / MANIFEST)
        return paths

    def store(self, artefacts: list[Path], info: dict) -> list[Path]:
        """Copy ``artefacts`` into the entry, replacing whatever was there; returns the copies."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.key}-", dir=self.path.parent))
        try:
            checksums = {}
            for artefact in artefacts:
                shutil.copy2(artefact, staging / artefact.name)
                checksums[artefact.name] = _sha256(staging / artefact.name)
            manifest = {"files": checksums, **info}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
            with interrupt.critical():
                if (
                    self.files() is None
                ):  # another builder may have stored it meanwhile: keep theirs
                    if self.path.exists():
                        shutil.rmtree(self.path)
                    os.replace(staging, self.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return [self.path / a.name for a in artefacts]


@dataclass
class StoredModel:
    """A complete cache entry, as ``mixfit cache`` lists it."""

    key: str
    files: list[Path]  # the artefacts and the manifest: everything mixfit wrote there
    size: int  # bytes
    last_used: float  # seconds since the epoch
    backend: str

    def age(self, now: float | None = None) -> float:
        return (now if now is not None else time.time()) - self.last_used


def stored_models(root: Path | None = None) -> list[StoredModel]:
    """The cache's entries that have a manifest, most recently used first. Anything else under the
    cache folder (a build killed half-way, files someone else put there) is not an entry."""
    models = (root or cache_root()) / "models"
    if not models.is_dir():
        return []
    found = []
    for folder in models.iterdir():
        manifest = folder / MANIFEST
        info = _manifest(manifest)
        if info is None:
            continue
        names = list(info["files"])  # plain names: nothing outside the entry is ever removed
        try:
            stat = manifest.stat()
        except OSError:
            continue
        files = [folder / name for name in names if (folder / name).is_file()] + [manifest]
        size = sum(f.stat().st_size for f in files)
        backend = str(info.get("backend", "unknown"))
        found.append(StoredModel(folder.name, files, size, stat.st_mtime, backend))
    return sorted(found, key=lambda m: m.last_used, reverse=True)


def remove(model: StoredModel, root: Path | None = None) -> None:
    """Delete an entry's files (only those its manifest lists, and the manifest), under its lock so
    that no fit is reading or building it meanwhile; the folder goes too once it is empty."""
    entry = CacheEntry(model.key, root)
    with entry.locked():
        for path in model.files:
            with suppress(FileNotFoundError):
                path.unlink()
        with suppress(OSError):  # not empty: someone else's files stay, and so does the folder
            entry.path.rmdir()


def _manifest(path: Path) -> dict | None:
    """An entry's manifest, checked (its files plain names in the entry); None if there is none
    or it is not one mixfit wrote."""
    from mixfit.errors import InputError
    from mixfit.readback.records import cache_manifest

    if not path.is_file():
        return None
    try:
        return cache_manifest(path)
    except InputError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
