"""Files a command writes where the user asked: complete, or not there at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mixfit.errors import InputError


@contextmanager
def replacing(*targets: Path) -> Iterator[list[Path]]:
    """Temporary paths beside ``targets``, moved onto them only if the block succeeds."""
    for target in targets:
        if target.is_dir():
            raise InputError(f"output {str(target)!r} is a folder, not a file")
        if not target.parent.is_dir():
            raise InputError(f"the folder of output {str(target)!r} does not exist")
    temporary = []
    try:
        for target in targets:
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
            os.close(handle)
            temporary.append(Path(name))
        yield temporary
        mode = 0o666 & ~_umask()  # mkstemp's files are private; the user's outputs are not
        for path, target in zip(temporary, targets):
            os.chmod(path, mode)
            os.replace(path, target)
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
