"""``flask --app wsgi backup DEST``: a consistent copy of the SQLite database, taken live.

SQLite's online backup API copies the database page by page inside one read transaction,
so the copy is the database as it stood at one instant, even while phones keep pushing
(in WAL mode a reader never blocks the writer, nor the writer the reader). Copying the
file with ``cp`` instead can catch a write half done, and misses what still sits in the
``-wal`` file.

``flask --app wsgi restore BACKUP`` puts a backup in place of the database (the server
stopped) and moves the pull feed's counter far past anything a phone may hold: a phone that
pulled after the backup was taken holds a cursor beyond the backup's last position, and
without the jump it would skip the first new changes written after the restore.

PostgreSQL has its own tools (``pg_dump``, ``pg_basebackup``); this command refuses there
and says so, rather than pretend.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import update
from sqlalchemy.engine import make_url

from server.extensions import db
from server.models import SyncCounter

# Added to the feed counter on restore: more changes than a province makes in decades, so
# every cursor issued before the restore lies behind every change written after it.
FEED_JUMP = 1_000_000_000


class BackupError(RuntimeError):
    """The backup could not be made; the message says why and what to do instead."""


def sqlite_path(url: str) -> Path:
    """The file behind a SQLite URL; BackupError for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"the database is {parsed.get_backend_name()}, not SQLite: back it up with "
            'pg_dump (e.g. pg_dump -Fc -f fieldsync.dump "$DATABASE_URL"), see the README\'s '
            "'Backup and restore'"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("the database is in memory: there is no file to back up")
    return Path(parsed.database)


def destination_file(dest: Path, now: datetime) -> Path:
    """``dest`` itself, or a timestamped file inside it when ``dest`` is a folder."""
    if dest.is_dir():
        return dest / f"fieldsync-{now:%Y%m%d-%H%M%S}.db"
    return dest


def backup_sqlite(source: Path, dest: Path) -> Path:
    """Copy the live SQLite database at ``source`` to ``dest`` (a file or a folder).

    The copy is written beside its destination under a temporary name, checked with
    ``PRAGMA integrity_check`` and only then renamed into place, so ``dest`` is either a
    whole, sound backup or absent. Refuses to overwrite an existing file.
    """
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    target = destination_file(dest, datetime.now(UTC))
    if target.exists():
        raise BackupError(f"{target} already exists; choose another name (nothing was written)")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # A read-only URI: the backup can never write to the live database.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, i.e. one read transaction, one instant.
            src.backup(out, pages=-1)
            verdict = out.execute("PRAGMA integrity_check").fetchone()[0]
            # The copy stands alone: no WAL beside it, readable by a plain sqlite3 shell.
            out.execute("PRAGMA journal_mode=DELETE")
        finally:
            out.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    finally:
        src.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {verdict}")
    os.replace(partial, target)
    return target


@click.command("backup")
@with_appcontext
@click.argument("dest", type=click.Path(path_type=Path))
def backup(dest: Path) -> None:
    """Copy the SQLite database to DEST (a file, or a folder for a timestamped file), live."""
    try:
        source = sqlite_path(db.engine.url.render_as_string(hide_password=False))
        target = backup_sqlite(source, dest)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up {source} to {target} ({target.stat().st_size} bytes)")


def restore_sqlite(backup_file: Path, target: Path, now: datetime) -> Path | None:
    """Replace the database at ``target`` by ``backup_file``; returns where the old one went.

    The old database (with its ``-wal`` and ``-shm`` files) is moved aside, never deleted.
    """
    if not backup_file.is_file():
        raise BackupError(f"{backup_file} does not exist")
    try:
        with closing(sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)) as check:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise BackupError(f"{backup_file} failed its integrity check: {verdict}; nothing was changed")
    aside = target.with_name(f"{target.name}.before-restore-{now:%Y%m%d-%H%M%S}")
    for suffix in ("", "-wal", "-shm"):
        old = target.with_name(target.name + suffix)
        if old.exists():
            os.replace(old, aside.with_name(aside.name + suffix))
    partial = target.with_name(f".{target.name}.partial")
    with closing(sqlite3.connect(backup_file)) as src, closing(sqlite3.connect(partial)) as out:
        src.backup(out, pages=-1)
    os.replace(partial, target)
    return aside if aside.exists() else None


@click.command("restore")
@with_appcontext
@click.argument("backup_file", type=click.Path(path_type=Path, dir_okay=False))
def restore(backup_file: Path) -> None:
    """Replace the SQLite database by BACKUP_FILE (stop the server first); the old one is kept aside."""
    try:
        target = sqlite_path(db.engine.url.render_as_string(hide_password=False))
        db.engine.dispose()  # no pooled connection may keep the old file open
        aside = restore_sqlite(backup_file, target, datetime.now(UTC))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    # The pull feed's counter only: the audit chain's counter numbers its entries 1, 2, 3 ...
    db.session.execute(
        update(SyncCounter).where(SyncCounter.name == "changes").values(value=SyncCounter.value + FEED_JUMP)
    )
    db.session.commit()
    kept = f"; the old database is at {aside}" if aside else ""
    click.echo(f"restored {target} from {backup_file}{kept}")
    click.echo("run init-db next if the backup predates the latest migration")
