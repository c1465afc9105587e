"""Files a command writes where the user asked: complete, or not there at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mixfit.results.output_file import check_output_file, deliver


@contextmanager
def replacing(*targets: Path, inputs: Mapping[str, Path] | None = None) -> Iterator[list[Path]]:
    """Temporary paths, put in place of ``targets`` only if the block succeeds, by the rules of
    mixfit/results/output_file.py (``inputs``: the files the run reads, never written)."""
    outputs = [check_output_file(target, inputs) for target in targets]
    private = Path(tempfile.mkdtemp(prefix="mixfit-output-"))
    temporary = []
    try:
        for output in outputs:
            # beside its destination, so that the rename is atomic; a FIFO's or device's in the
            # private folder, copied through once complete
            folder = private if output.through else output.destination.parent
            handle, name = tempfile.mkstemp(
                prefix=f".{output.destination.name}.partial-", dir=folder
            )
            os.close(handle)
            temporary.append(Path(name))
        yield temporary
        for path, output in zip(temporary, outputs):
            deliver(path, output)
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
        shutil.rmtree(private, ignore_errors=True)
