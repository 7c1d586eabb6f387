"""The database's clock as a SQL expression, so every process compares times in one clock."""
from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class db_now(FunctionElement):  # noqa: N801 - reads like the SQL it renders
    """Current UTC time of the database server, shifted by a number of seconds."""

    type = DateTime()
    inherit_cache = True
    name = "db_now"


def now():
    """The database's current UTC time."""
    return db_now(literal(0.0, Float))


def seconds_ago(seconds):
    """The database's current UTC time minus `seconds`."""
    return db_now(literal(-float(seconds), Float))


def seconds_ahead(seconds):
    """The database's current UTC time plus `seconds` (a number or a SQL expression)."""
    return db_now(seconds if hasattr(seconds, "compile") else literal(float(seconds), Float))


@compiles(db_now, "postgresql")
def _postgresql(element, compiler, **kw):
    offset = compiler.process(element.clauses, **kw)
    return f"(timezone('utc', statement_timestamp()) + make_interval(secs => {offset}))"


@compiles(db_now, "sqlite")
def _sqlite(element, compiler, **kw):
    offset = compiler.process(element.clauses, **kw)
    # Same text layout SQLAlchemy stores DateTime in, so string comparison orders correctly.
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', ({offset}) || ' seconds')"
