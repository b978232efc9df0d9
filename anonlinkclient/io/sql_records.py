"""PII records in an SQL database (SQLAlchemy URLs), streamed with a server-side cursor, as a record source.

A table (``schema.table`` allowed) or a query is read. SQLite needs nothing beyond
Python; PostgreSQL is read with psycopg, in a read-only transaction. The password comes
from the environment or a password file, never from the command line: for PostgreSQL
libpq reads ``PGPASSWORD`` and ``~/.pgpass`` (or ``PGPASSFILE``) itself, and for every
database ``ANONLINK_DB_PASSWORD`` is used when the URL has none.

Messages name the database by its URL **without** the password (:func:`display_url`)
and the table (or "query"); a database's own error text is shown only where it cannot
hold a value from the data (never for data errors, whose text quotes values). Rows count
the records of the table or query from 1.
"""

import os
import re
import sqlite3
from typing import Any, Iterator, List, Optional, Sequence

from anonlinkclient.errors import InputFileError, UsageError
from anonlinkclient.io.records import Column, Location, Piece, PieceSize, RecordSource, Row
from anonlinkclient.io.typed import TypedPiece, check_columns, typed_rows

#: The environment variable that holds the database password when the URL has none.
PASSWORD_VARIABLE = "ANONLINK_DB_PASSWORD"
CONNECT_TIMEOUT_SECONDS = 20
_SECRET_PARAMETERS = {"password", "passwd", "pwd", "sslpassword"}


def is_database_url(argument: str) -> bool:
    """Whether an input argument is a database URL (``dialect[+driver]://...``) rather than a file."""
    return re.match(r"^[A-Za-z][A-Za-z0-9]*(\+[A-Za-z0-9_]+)?://", argument) is not None


def _parse(url: str) -> Any:
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url)
    except Exception:
        # make_url's message quotes the URL, password and all: say only what it is not
        raise UsageError("the database URL cannot be read (expected dialect://user@host/database)", "url") from None


def display_url(url: str) -> str:
    """The URL as messages show it: without the password (or any password parameter)."""
    parsed = _parse(url)
    query = {key: value for key, value in parsed.query.items() if key.lower() not in _SECRET_PARAMETERS}
    # URL is a named tuple; its set() keeps a password given None
    rendered: str = parsed._replace(password=None).set(query=query).render_as_string(hide_password=False)
    return rendered


class SqlSource(RecordSource):
    """The records of a database table or query.

    :param url: an SQLAlchemy URL, e.g. ``postgresql://alice@db.example.org/registry`` or ``sqlite:///people.db``.
    :param table: the table to read (``schema.table`` allowed), or
    :param query: the ``SELECT`` to run.
    :raises InputFileError: if the database cannot be reached, refuses the login, or has no
        such table; or the query fails.
    :raises UsageError: for neither or both of ``table`` and ``query``, or a URL that cannot be read.
    """

    def __init__(self, url: str, table: Optional[str] = None, query: Optional[str] = None) -> None:
        if (table is None) == (query is None):
            raise UsageError("a database is read from a table or a query: give one of them", "table")
        self.url = display_url(url)
        self.name = f"{self.url}, {'table ' + table if table is not None else 'query'}"
        self._password = _parse(url).password
        self._table, self._query = table, query
        self._engine = self._connect_engine(url)
        self._connection: Any = None
        self._result: Any = None
        try:
            self._open(table, query)
        except BaseException:
            self.close()
            raise
        self._requested = [Column(name) for name in self.columns or []]

    def _open(self, table: Optional[str], query: Optional[str]) -> None:
        with self._errors(None):
            connection = self._engine.connect()
            self._connection = connection.execution_options(stream_results=True, max_row_buffer=10_000)
            if self._engine.dialect.name == "postgresql":
                self._connection = self._connection.execution_options(postgresql_readonly=True)
        self._table_columns_: List[str] = []
        if table is not None:
            self.columns = self._table_columns_ = self._table_columns(table)
        else:
            self._run(query or "")
            self.columns = list(self._result.keys())

    def _connect_engine(self, url: str) -> Any:
        import sqlalchemy

        parsed = _parse(url)
        if parsed.password is None and os.environ.get(PASSWORD_VARIABLE):
            parsed = parsed.set(password=os.environ[PASSWORD_VARIABLE])
            self._password = parsed.password
        options: dict = {}
        if parsed.get_backend_name() == "sqlite":
            options["creator"] = _sqlite_reader(parsed.database, self.url)
        elif parsed.get_backend_name() == "postgresql":
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "anonlink"}
        try:
            return sqlalchemy.create_engine(parsed, poolclass=sqlalchemy.pool.NullPool, **options)
        except ModuleNotFoundError as exc:
            raise InputFileError(
                self.url, f"the driver for this database is not installed (pip install {exc.name})"
            ) from None
        except Exception:  # NoSuchModuleError, ArgumentError: their messages quote the URL
            raise InputFileError(self.url, "SQLAlchemy has no dialect or driver for this URL") from None

    def _table_columns(self, table: str) -> List[str]:
        import sqlalchemy

        schema, _, name = table.rpartition(".")
        with self._errors(None):
            inspector = sqlalchemy.inspect(self._connection)
            if not inspector.has_table(name, schema=schema or None):
                raise InputFileError(self.url, f"has no table {table}")
            columns = inspector.get_columns(name, schema=schema or None)
        return [column["name"] for column in columns]

    def _run(self, statement: Any) -> None:
        import sqlalchemy

        if isinstance(statement, str):
            statement = sqlalchemy.text(statement)
        with self._errors(None):
            self._result = self._connection.execute(statement)
            if not self._result.returns_rows:
                raise InputFileError(self.name, "the query returns no rows (is it a SELECT?)")

    def select(self, requested: Sequence[Column]) -> None:
        """Read these columns, with these text rules (a table is asked for these columns only).

        :raises InputFileError: naming the required columns the table or query lacks.
        """
        check_columns(self.name, self.columns or [], requested)
        self._requested = list(requested)
        self.columns = [column.name for column in requested]

    def location(self, index: int) -> Location:
        """Record ``index`` is row ``index + 1`` of the table or query."""
        return Location(self.name, index + 1)

    def rows(self) -> Iterator[Row]:
        """Every record as text (see :mod:`.typed`)."""
        return typed_rows(self)

    def pieces(self, size: PieceSize = PieceSize()) -> Iterator[Piece]:
        """Runs of about ``size.rows`` records fetched here, turned into text where they are read."""
        if self._result is None:  # a table: ask for the requested columns only
            wanted = dict.fromkeys(c.name for c in self._requested if c.required)
            keys = [name for name in wanted if name in self._table_columns_]
            self._run(self._select_table(self._table or "", keys))
        else:
            keys = list(self._result.keys())
        positions_of: dict = {}
        for at, name in enumerate(keys):
            positions_of.setdefault(name, at)
        positions: List[Optional[int]] = [positions_of.get(c.name) if c.required else None for c in self._requested]
        labels = [column.name for column in self._requested]
        done = 0
        while True:
            with self._errors(done):
                rows = self._result.fetchmany(size.rows) if self._result is not None else []
            if not rows:
                return
            by_position = list(zip(*rows))
            columns = [None if at is None else list(by_position[at]) for at in positions]
            # turned into text here: texts travel to the workers faster than dates and decimals
            yield TypedPiece(columns, self._requested, labels, len(rows)).as_text()
            done += len(rows)

    def _select_table(self, table: str, names: List[str]) -> Any:
        import sqlalchemy

        schema, _, name = table.rpartition(".")
        selected = sqlalchemy.table(name, *(sqlalchemy.column(n) for n in names), schema=schema or None)
        if not names:
            return sqlalchemy.select(sqlalchemy.literal(1)).select_from(selected)
        return sqlalchemy.select(*selected.columns)

    def _errors(self, done: Optional[int]) -> "_DatabaseErrors":
        return _DatabaseErrors(self, done)

    def close(self) -> None:
        """Close the cursor and the connection."""
        for closable in (self._result, self._connection):
            if closable is not None:
                try:
                    closable.close()
                except Exception:  # the connection may be gone already
                    pass
        self._engine.dispose()


class _DatabaseErrors:
    """Turns the driver's exceptions into one line that names the database, without a password or a value."""

    def __init__(self, source: SqlSource, done: Optional[int]) -> None:
        self.source = source
        self.done = done

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _traceback: Any) -> None:
        if exc is None or isinstance(exc, InputFileError) or not isinstance(exc, Exception):
            return
        reason = database_problem(exc)
        password = self.source._password
        if password:
            reason = reason.replace(password, "<hidden>")
        if self.done is None:
            where = self.source.url if self.source._connection is None else self.source.name  # while connecting
            raise InputFileError(where, reason) from None
        raise InputFileError(self.source.name, reason, row=self.done + 1) from None


def database_problem(exc: BaseException) -> str:
    """What went wrong, in words that hold no password and no value from the data."""
    original = getattr(exc, "orig", None) or exc
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    if isinstance(original, sqlite3.Error):
        return _sqlite_problem(original, text)
    if state:
        return _state_problem(state, original)
    lowered = text.lower()
    for phrase, reason in _CONNECTION_PHRASES:
        if phrase in lowered:
            return reason
    return f"the database failed ({type(original).__name__})"


_CONNECTION_PHRASES = [
    ("password authentication failed", "the database refused the login"),
    ("authentication failed", "the database refused the login"),
    ("no password supplied", "the database asks for a password, and none was given (see PGPASSWORD or ~/.pgpass)"),
    ("role", "the database refused the login"),
    ('database "', "the database refused the connection: no such database"),
    ("does not exist", "the database refused the connection: no such database or user"),
    ("connection refused", "cannot connect to the database server (connection refused)"),
    ("timeout expired", "cannot connect to the database server (timed out)"),
    ("could not translate host name", "cannot connect to the database server (unknown host)"),
    ("name or service not known", "cannot connect to the database server (unknown host)"),
    ("server closed the connection", "the connection to the database server was lost"),
    ("terminating connection", "the connection to the database server was lost"),
    ("consuming input failed", "the connection to the database server was lost"),
    ("connection is closed", "the connection to the database server was lost"),
    ("connection failed", "cannot connect to the database server"),
    ("the connection is lost", "the connection to the database server was lost"),
]


def _state_problem(state: str, original: Any) -> str:
    if state.startswith("28"):
        return "the database refused the login"
    if state == "3D000":
        return "the database refused the connection: no such database"
    if state.startswith("08") or state.startswith("57P"):
        return "the connection to the database server was lost"
    if state == "42501":
        return "permission denied (the database user may not read this)"
    if state.startswith("42"):  # names tables, columns and functions of the query, never values
        diag = getattr(original, "diag", None)
        primary = getattr(diag, "message_primary", None) or str(original).strip().splitlines()[0]
        return f"the query cannot run: {primary}"
    if state == "25006":
        return "the query would change the database; only reading is allowed"
    return f"the database failed (SQLSTATE {state}; its message is not shown, as it may quote values)"


def _sqlite_problem(original: Any, text: str) -> str:
    if isinstance(original, sqlite3.OperationalError):
        if "unable to open" in text:
            return "cannot open the SQLite database"
        if "readonly" in text or "read-only" in text:
            return "the query would change the database; only reading is allowed"
        return f"the query cannot run: {text}"  # no such table/column, syntax errors: the query's words
    if isinstance(original, sqlite3.DatabaseError) and "not a database" in text:
        return "not an SQLite database"
    return f"the database failed ({type(original).__name__})"


def _sqlite_reader(database: Optional[str], shown: str) -> Any:
    """A connection factory that opens an existing SQLite file read-only (it never creates one)."""
    if not database or database == ":memory:":
        raise InputFileError(shown, "an SQLite URL needs a database file (sqlite:///path/to/file.db)")
    if not os.path.isfile(database):
        raise InputFileError(shown, "no such SQLite database file")
    uri = "file:" + database.replace("%", "%25").replace("?", "%3f").replace("#", "%23") + "?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True)

    return connect
