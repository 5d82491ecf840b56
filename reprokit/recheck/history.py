"""The history of rechecks: a SQLite file (``--db``; by default ``history.sqlite`` in
``$XDG_DATA_HOME/reprokit``, else ``~/.local/share/reprokit``), one row per bundle checked
in a run, with each check's status and reason and each output's verdict.

One writer, the client that runs the recheck (a lock file beside the database keeps a
second one out); readers (``--history``, ``--report``) read alongside it, as SQLite's
write-ahead log allows. The schema has a version (``PRAGMA user_version``) and migrations
that bring an older file up to date in place, its rows kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from reprokit.errors import InputError, UsageError
from reprokit.recheck.results import VERDICTS, OutputSeen, Result, Run, Step


def data_root() -> Path:
    """``$XDG_DATA_HOME/reprokit``, else ``~/.local/share/reprokit``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "reprokit"


def default_path() -> Path:
    return data_root() / "history.sqlite"


def _script(db: sqlite3.Connection, script: str) -> None:
    """Statements one by one (``executescript`` would commit the migration's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _schema_1(db: sqlite3.Connection) -> None:
    """Runs, and one row per bundle checked in a run with the counts of its output
    verdicts, its checks in ``steps``, validate's JSON kept whole in ``report``."""
    _script(db, """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
            bundles INTEGER NOT NULL, scheduler TEXT NOT NULL, reprokit_version TEXT NOT NULL, platform TEXT NOT NULL,
            python TEXT NOT NULL, options TEXT NOT NULL);
        CREATE TABLE results (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), bundle_id TEXT NOT NULL, name TEXT NOT NULL,
            source TEXT NOT NULL, sums_sha256 TEXT, doi TEXT, checked_at TEXT NOT NULL, status TEXT NOT NULL,
            detail TEXT NOT NULL, identical INTEGER NOT NULL, equivalent INTEGER NOT NULL, different INTEGER NOT NULL,
            missing INTEGER NOT NULL, varies INTEGER NOT NULL, duration REAL NOT NULL, peak_memory INTEGER NOT NULL,
            reprokit_version TEXT NOT NULL, platform TEXT NOT NULL, python TEXT NOT NULL, worker TEXT NOT NULL,
            attempts INTEGER NOT NULL, report TEXT, UNIQUE (run_id, bundle_id));
        CREATE TABLE steps (
            result_id INTEGER NOT NULL REFERENCES results(id), name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
            PRIMARY KEY (result_id, name));
        CREATE INDEX results_by_bundle ON results (bundle_id, checked_at);
        CREATE INDEX runs_by_fingerprint ON runs (fingerprint, finished);
    """)


def _schema_2(db: sqlite3.Connection) -> None:
    """Each output's verdict (which output changed, not only how many), and the rerun with
    the clock ahead: its offset and time bombs. Rows of schema 1 get their outputs from the
    report they kept."""
    _script(db, """
        ALTER TABLE results ADD COLUMN clock_ahead TEXT;
        ALTER TABLE results ADD COLUMN clock_seconds INTEGER;
        ALTER TABLE results ADD COLUMN time_bombs TEXT NOT NULL DEFAULT '[]';
        CREATE TABLE outputs (
            result_id INTEGER NOT NULL REFERENCES results(id), path TEXT NOT NULL, ahead INTEGER NOT NULL,
            status TEXT NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (result_id, path, ahead));
    """)
    for row_id, report in db.execute("SELECT id, report FROM results WHERE report IS NOT NULL").fetchall():
        try:
            outputs = json.loads(report).get("outputs") or []
        except (ValueError, AttributeError):
            continue
        db.executemany("INSERT OR IGNORE INTO outputs VALUES (?, ?, 0, ?, ?)",
                       [(row_id, str(o["path"]), str(o["status"]), str(o.get("summary") or "")) for o in outputs if isinstance(o, dict)])


# In order: a file at version N has had the first N applied.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_schema_1, _schema_2)
SCHEMA = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path, upto: int = SCHEMA) -> int:
    """Bring the file to schema ``upto``, each migration in its own transaction; returns
    the version it was at. A file of a newer schema is left alone and refused."""
    with db:
        db.execute("BEGIN IMMEDIATE")  # one migrator at a time
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA:
            raise InputError(f"{path}: a history of schema {found}, newer than this reprokit's ({SCHEMA}); use a newer reprokit")
        for version in range(found, upto):
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
    return found


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class History:
    """A history file, open. ``writer=True`` takes the writer's lock (one recheck at a
    time writes to a history); reading needs none."""

    def __init__(self, path: Path, *, writer: bool = False) -> None:
        self.path = path
        self._lock: int | None = None  # the lock file's descriptor, held until close()
        if writer:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._lock)
                self._lock = None
                raise UsageError(f"{path}: another reprokit recheck is writing to this history; wait for it, or give --db") from None
        elif not path.is_file():
            raise UsageError(f"{path}: no history yet (reprokit recheck writes it; --db names another)")
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db, path)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(f"{path}: not a reprokit history ({exc})") from None

    def close(self) -> None:
        with contextlib.suppress(AttributeError, sqlite3.Error):
            self.db.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db

    # --- runs ---------------------------------------------------------------------------

    def start_run(self, *, fingerprint: str, bundles: int, scheduler: str, reprokit_version: str, platform: str, python: str,
                  options: Mapping[str, Any], resume: bool = True) -> tuple[Run, bool]:
        """A new run, or with ``resume`` the newest unfinished run of the same bundles and
        checks (``fingerprint``); and whether it was resumed."""
        if resume:
            row = self.db.execute("SELECT id FROM runs WHERE fingerprint = ? AND finished IS NULL ORDER BY id DESC LIMIT 1",
                                  (fingerprint,)).fetchone()
            if row is not None:
                with self._write() as db:
                    db.execute("UPDATE runs SET scheduler = ? WHERE id = ?", (scheduler, row[0]))
                return self.run(int(row[0])), True
        with self._write() as db:
            cur = db.execute("INSERT INTO runs (fingerprint, started, finished, bundles, scheduler, reprokit_version, platform, python, options) "
                             "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                             (fingerprint, now(), bundles, scheduler, reprokit_version, platform, python, json.dumps(dict(options), sort_keys=True)))
            run_id = int(cur.lastrowid or 0)
        return self.run(run_id), False

    def finish_run(self, run_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET finished = ? WHERE id = ?", (now(), run_id))

    def run(self, run_id: int) -> Run:
        found = self.runs(run_id)
        if not found:
            raise InputError(f"{self.path}: no run {run_id}")
        return found[0]

    def runs(self, run_id: int | None = None) -> list[Run]:
        sql = "SELECT id, started, finished, bundles, scheduler, reprokit_version, platform, python, options FROM runs"
        rows = self.db.execute(sql + (" WHERE id = ?" if run_id is not None else "") + " ORDER BY id",
                               (run_id,) if run_id is not None else ()).fetchall()
        return [Run(id=r[0], started=r[1], finished=r[2], bundles=r[3], scheduler=r[4], reprokit_version=r[5], platform=r[6], python=r[7],
                    options=json.loads(r[8])) for r in rows]

    def checked_in(self, run_id: int) -> set[str]:
        """The bundles a run has recorded."""
        return {r[0] for r in self.db.execute("SELECT bundle_id FROM results WHERE run_id = ?", (run_id,))}

    # --- results ------------------------------------------------------------------------

    def record(self, result: Result, report: Mapping[str, Any] | None = None) -> bool:
        """Add ``result`` to its run; False when the run has one for that bundle already
        (a bundle is recorded once per run)."""
        counts = result.verdicts()
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO results (run_id, bundle_id, name, source, sums_sha256, doi, checked_at, status, detail, identical, "
                "equivalent, different, missing, varies, duration, peak_memory, reprokit_version, platform, python, worker, attempts, "
                "report, clock_ahead, clock_seconds, time_bombs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.run_id, result.bundle_id, result.name, result.source, result.sums_sha256, result.doi, result.checked_at, result.status,
                 result.detail, *(counts[k] for k in VERDICTS), result.duration, result.peak_memory, result.reprokit_version,
                 result.platform, result.python, result.worker, result.attempts, json.dumps(report) if report is not None else None,
                 result.clock_ahead, result.clock_seconds, json.dumps(list(result.time_bombs))))
            if cur.rowcount == 0:
                return False
            row_id = cur.lastrowid
            db.executemany("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?)", [(row_id, s.name, s.status, s.reason) for s in result.steps])
            db.executemany("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
                           [(row_id, o.path, int(o.ahead), o.status, o.summary) for o in result.outputs])
        return True

    def results(self, bundle: str | None = None, run_id: int | None = None) -> list[Result]:
        """Results, oldest first: all, one run's, or one bundle's (by its id, name, DOI or source)."""
        where, args = [], []
        if bundle is not None:
            where.append("(bundle_id = ? OR name = ? OR doi = ? OR source = ?)")
            args += [bundle] * 4
        if run_id is not None:
            where.append("run_id = ?")
            args.append(str(run_id))
        rows = self.db.execute(
            "SELECT id, run_id, bundle_id, name, source, sums_sha256, doi, checked_at, status, detail, identical, equivalent, different, "
            "missing, varies, duration, peak_memory, reprokit_version, platform, python, worker, attempts, clock_ahead, clock_seconds, "
            "time_bombs FROM results" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY checked_at, run_id, id", args).fetchall()
        steps: dict[int, list[Step]] = {}
        outputs: dict[int, list[OutputSeen]] = {}
        ids = [r[0] for r in rows]
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            marks = ",".join("?" * len(chunk))
            for rid, name, status, reason in self.db.execute(f"SELECT result_id, name, status, reason FROM steps WHERE result_id IN ({marks}) "
                                                             "ORDER BY rowid", chunk):
                steps.setdefault(rid, []).append(Step(name=name, status=status, reason=reason))
            for rid, path, ahead, status, summary in self.db.execute(
                    f"SELECT result_id, path, ahead, status, summary FROM outputs WHERE result_id IN ({marks}) ORDER BY rowid", chunk):
                outputs.setdefault(rid, []).append(OutputSeen(path=path, status=status, summary=summary, ahead=bool(ahead)))
        return [Result(run_id=r[1], bundle_id=r[2], name=r[3], source=r[4], sums_sha256=r[5], doi=r[6], checked_at=r[7], status=r[8],
                       detail=r[9], counts=dict(zip(VERDICTS, r[10:15], strict=True)), duration=r[15], peak_memory=r[16],
                       reprokit_version=r[17], platform=r[18], python=r[19], worker=r[20], attempts=r[21], clock_ahead=r[22],
                       clock_seconds=r[23], time_bombs=tuple(json.loads(r[24] or "[]")), steps=tuple(steps.get(r[0], ())),
                       outputs=tuple(outputs.get(r[0], ())))
                for r in rows]

    def bundles(self) -> Sequence[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT bundle_id FROM results ORDER BY bundle_id")]
