"""Canaries, and the searches that look for them in everything a gateway could write down:
files (database, WAL, temp files), log lines, the /metrics text, every row of every table
of a SQLite or PostgreSQL database, and every key and value in Redis.

A canary is `CANARY-<32 hex digits>`. It is searched for by its hex digits, lower- and
upper-case, and by their first 16 alone, so a copy that was re-cased, truncated or escaped
is found too.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg


@dataclass(frozen=True)
class Leak:
    label: str  # which request, and where in it, the canary was sent
    where: str  # where it was found
    context: str  # the text around it, for the failure message

    def __str__(self) -> str:
        return f"canary of [{self.label}] found in {self.where}: …{self.context}…"


@dataclass
class Canaries:
    """One fresh canary per place a request carried one."""

    by_label: dict[str, str] = field(default_factory=dict)
    # What the provider answered that must not be kept either (an embedding's tell-tale
    # bytes), searched for as it is.
    answers: dict[str, bytes] = field(default_factory=dict)

    def new(self, label: str) -> str:
        assert label not in self.by_label, label
        token = f"CANARY-{uuid.uuid4().hex}"
        self.by_label[label] = token
        return token

    def needles(self) -> list[tuple[str, bytes]]:
        found = []
        for label, token in self.by_label.items():
            digits = token.removeprefix("CANARY-")
            for needle in {digits, digits.upper(), digits[:16], digits[:16].upper()}:
                found.append((label, needle.encode()))
        found += self.answers.items()
        return found

    def search(self, data: bytes, where: str) -> list[Leak]:
        leaks = []
        for label, needle in self.needles():
            at = data.find(needle)
            if at >= 0:
                context = data[max(0, at - 60) : at + 60].decode("utf-8", "replace")
                leaks.append(Leak(label, where, context))
        # One report per (canary, place): its variants all match the same copy.
        unique = {(leak.label, leak.where): leak for leak in leaks}
        return list(unique.values())

    def search_lines(self, lines: Iterable[str], where: str) -> list[Leak]:
        leaks = []
        for number, line in enumerate(lines, start=1):
            leaks += self.search(line.encode(), f"{where} line {number}")
        return leaks

    def search_files(self, root: Path, where: str) -> list[Leak]:
        leaks = []
        for path in sorted(root.rglob("*")):
            if path.is_file():
                leaks += self.search(path.read_bytes(), f"{where}/{path.relative_to(root)}")
        return leaks


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def sqlite_rows(path: Path) -> list[tuple[str, str]]:
    """(table, row as text) for every row of every table."""
    rows = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                rows.append((table, repr(row)))
    return rows


def postgres_rows(url: str) -> list[tuple[str, str]]:
    """(table, row as text) for every row of every table in the database's own schemas."""

    async def dump() -> list[tuple[str, str]]:
        connection = await asyncpg.connect(url)
        try:
            tables = await connection.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            rows = []
            for schema, table in tables:
                name = f'"{schema}"."{table}"'
                for row in await connection.fetch(f"SELECT t::text AS row FROM {name} t"):
                    rows.append((f"{schema}.{table}", row["row"]))
            return rows
        finally:
            await connection.close()

    return asyncio.run(dump())


def redis_entries(url: str) -> list[tuple[str, bytes]]:
    """(key, everything stored under it) for every key in the Redis database: the key name,
    its values (GET / HGETALL / ZRANGE / LRANGE / SMEMBERS) and its DUMP serialisation."""

    async def dump() -> list[tuple[str, bytes]]:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        try:
            entries = []
            async for key in client.scan_iter(count=1000):
                kind = (await client.type(key)).decode()
                parts: list[bytes] = [key]
                if kind == "string":
                    parts.append(await client.get(key) or b"")
                elif kind == "hash":
                    for name, value in (await client.hgetall(key)).items():
                        parts += [name, value]
                elif kind == "zset":
                    for member, score in await client.zrange(key, 0, -1, withscores=True):
                        parts += [member, str(score).encode()]
                elif kind == "list":
                    parts += await client.lrange(key, 0, -1)
                elif kind == "set":
                    parts += list(await client.smembers(key))
                parts.append(await client.dump(key) or b"")
                entries.append((key.decode("utf-8", "replace"), b"\n".join(parts)))
            return entries
        finally:
            await client.aclose()

    return asyncio.run(dump())
