"""Files the commands write (``replay --html``, ``bench --markdown``): the
path checked before any work starts, then the text written whole or not at
all, never over an input."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def output_problem(path: str | Path, *inputs: str | Path) -> str | None:
    """Why nothing can be written to ``path`` (checked before any work): it is
    one of the ``inputs``, a folder or a device, or its folder is missing or
    not writable; None when it can be."""
    out = Path(path)
    folder = out.parent if str(out.parent) else Path(".")
    for given in inputs:
        if str(given) != "-" and out.exists() and Path(given).exists():
            if os.path.samefile(out, given):
                return f"{path}: is the trace itself; it is not overwritten"
    if out.exists() and not out.is_file():
        return f"{path}: not a regular file"
    if not folder.is_dir():
        return f"{path}: no such folder {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{path}: the folder {folder} is not writable"
    return None


def write_whole(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path``, whole or not at all (a temporary file in
    the same folder, then renamed over it); returns it."""
    out = Path(path)
    fd, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plain write would have made it
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out
