"""Who may read the SQLite database: its directory and files belong to the service user alone.

The database holds key hashes, account emails and every request's metadata, so the data
directory is made 0700 and the database file 0600 — explicitly, whatever the process umask.
SQLite creates the write-ahead log (`-wal`) and its shared-memory index (`-shm`) later, on
its own, with the database file's mode: so the file is created here, empty (an empty file is
an empty SQLite database), before the engine's first connection. An existing directory is
left as the operator made it; `exposure` says when others can read or write it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from routeplex_gateway.storage.connection import async_url, sqlite_directory

log = logging.getLogger(__name__)

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
# Read or write for group or others: what lets another local user see (or swap) the data.
_OPEN_TO_OTHERS = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def make_private_directory(path: Path) -> None:
    """Make `path` (and missing parents) if needed; a directory made here is 0700."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)


def create_private_database(path: Path) -> None:
    """Create the database file empty with mode 0600 unless it exists, in a private
    directory; SQLite gives its `-wal` and `-shm` files the same mode."""
    make_private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        # The umask only removes bits; set the mode whole in case it is unusual.
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)


def exposure(path: Path) -> int | None:
    """The permission bits of `path` when group or others may read or write it, else None
    (also when it does not exist)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & _OPEN_TO_OTHERS else None


def warn_if_exposed(database_url: str) -> None:
    """At start-up: one warning line, the path and its mode, when the directory of a SQLite
    database is open to other users (made so by hand, or by an older RoutePlex)."""
    backend, url = async_url(database_url)
    directory = sqlite_directory(url) if backend == "sqlite" else None
    if directory is None:
        return
    mode = exposure(directory)
    if mode is not None:
        log.warning(
            "the data directory is readable or writable by other users; chmod 700 it",
            extra={"data_dir": str(directory.resolve()), "mode": f"{mode:04o}"},
        )
