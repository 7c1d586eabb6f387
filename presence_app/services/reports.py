"""Time in status, computed by the database from the ledger (README, "Reports")."""
import csv
import io

from sqlalchemy import DateTime, bindparam, select, text

from ..dbtime import now
from ..extensions import db
from ..schemas import iso
from .history import check_readable

STATUSES = ("online", "busy", "away", "offline")  # the report's order
# How each database spells what the report needs. Times are naive UTC; SQLite keeps them as text
# in SQLAlchemy's layout ("YYYY-MM-DD HH:MM:SS.ffffff"), which sorts like the times themselves.
DIALECTS = {
    "postgresql": {
        "greatest": "GREATEST", "least": "LEAST",
        "next_midnight": "(date_trunc('day', {0}) + interval '1 day')",
        "day": "date_trunc('day', {0})",
        "day_end": "({0} + interval '1 day')",
        "day_text": "to_char({0}, 'YYYY-MM-DD')",
        # Spans are summed as intervals (cheap) and turned into seconds once per group.
        "span": "({1} - {0})",
        "seconds": "EXTRACT(EPOCH FROM {0})",
    },
    "sqlite": {
        "greatest": "MAX", "least": "MIN",
        "next_midnight": "strftime('%Y-%m-%d 00:00:00.000000', {0}, '+1 day')",
        "day": "substr({0}, 1, 10)",
        "day_end": "strftime('%Y-%m-%d 00:00:00.000000', {0}, '+1 day')",
        "day_text": "{0}",
        # Whole seconds from strftime, microseconds from the text: exact, unlike julianday's float.
        "span": ("(CAST(strftime('%s', {1}) AS INTEGER) - CAST(strftime('%s', {0}) AS INTEGER)"
                 " + CAST(substr({1}, 20) AS REAL) - CAST(substr({0}, 20) AS REAL))"),
        "seconds": "{0}",
    },
}

# Each agent's changes from its last one before `since` up to `until`, ordered by seq in one
# window: LEAD gives each change the time the next one began; the first is counted from `since`.
# An agent with no change before `since` was offline until its first one.
REPORT = """
WITH RECURSIVE
scope AS (
    SELECT a.id AS agent_id, a.name,
           (SELECT MAX(c.at) FROM presence_changes c WHERE c.agent_id = a.id AND c.at < :since) AS from_at
    FROM agents a WHERE a.org = :org {only_agent}
),
ledger AS (
    SELECT c.agent_id, c.to_status AS status, c.websocket_connected AS connected, c.reason_code AS code,
           {greatest}(c.at, :since) AS start_at,
           COALESCE(LEAD(c.at) OVER (PARTITION BY c.agent_id ORDER BY c.seq), :until) AS end_at
    FROM scope s JOIN presence_changes c ON c.agent_id = s.agent_id
    WHERE c.at >= COALESCE(s.from_at, :since) AND c.at < :until
    UNION ALL
    SELECT s.agent_id, 'offline', false, NULL, :since,
           COALESCE((SELECT MIN(c.at) FROM presence_changes c
                     WHERE c.agent_id = s.agent_id AND c.at >= :since AND c.at < :until), :until)
    FROM scope s WHERE s.from_at IS NULL
),
{pieces},
by_code AS (
    SELECT agent_id, day, code,
           SUM(CASE WHEN status = 'online' THEN span END) AS online,
           SUM(CASE WHEN status = 'busy' THEN span END) AS busy,
           SUM(CASE WHEN status = 'away' THEN span END) AS away,
           SUM(CASE WHEN status = 'offline' THEN span END) AS offline,
           SUM(CASE WHEN status = 'online' AND connected THEN span END) AS available,
           SUM(span) AS total
    FROM timed GROUP BY agent_id, day, code
)
SELECT b.agent_id, s.name, {day_text} AS day, NULL AS code, {online} AS online, {busy} AS busy, {away} AS away,
       {offline} AS offline, {available} AS secs
FROM by_code b JOIN scope s ON s.agent_id = b.agent_id
GROUP BY b.agent_id, s.name, b.day
UNION ALL
SELECT agent_id, NULL, {day_text}, code, NULL, NULL, NULL, NULL, {total}
FROM by_code b WHERE code IS NOT NULL
"""
BY_AGENT = """timed AS (
    SELECT agent_id, status, connected, code, NULL AS day,
           CASE WHEN end_at > start_at THEN {span} END AS span
    FROM ledger
)"""
# By day: each span is cut at the next midnight, and at every midnight a mark takes over: the state
# of the agent's last change before that midnight, until its next change (or the next midnight).
BY_DAY = """days(day) AS (
    SELECT {next_midnight_since}
    UNION ALL
    SELECT {next_midnight_day} FROM days WHERE {next_midnight_day} < :until
),
marks AS (
    SELECT s.agent_id, d.day AS start_at,
           (SELECT c.seq FROM presence_changes c WHERE c.agent_id = s.agent_id AND c.at < d.day
            ORDER BY c.at DESC, c.seq DESC LIMIT 1) AS prior_seq,
           COALESCE((SELECT MIN(c.at) FROM presence_changes c
                     WHERE c.agent_id = s.agent_id AND c.at >= d.day AND c.at < :until), :until) AS end_at
    FROM scope s CROSS JOIN days d WHERE d.day < :until
),
pieces AS (
    SELECT agent_id, status, connected, code, start_at, end_at FROM ledger
    UNION ALL
    SELECT m.agent_id, COALESCE(p.to_status, 'offline'), COALESCE(p.websocket_connected, false), p.reason_code,
           m.start_at, m.end_at
    FROM marks m LEFT JOIN presence_changes p ON p.agent_id = m.agent_id AND p.seq = m.prior_seq
),
timed AS (
    SELECT agent_id, status, connected, code, day, CASE WHEN end_at > start_at THEN {clipped_span} END AS span
    FROM (SELECT pieces.*, {day} AS day FROM pieces) AS dated
)"""


def _statement(dialect, agent_id, by_day):
    spell = DIALECTS[dialect]

    def total(column, summed=True):
        inner = f"SUM(b.{column})" if summed else f"b.{column}"
        return f"COALESCE(CAST(ROUND({spell['seconds'].format(inner)}) AS BIGINT), 0)"

    if by_day:
        midnight = spell["day_end"].format("day")
        pieces = BY_DAY.format(
            day=spell["day"].format("start_at"),
            next_midnight_since=spell["next_midnight"].format(":since"),
            next_midnight_day=spell["next_midnight"].format("day"),
            clipped_span=spell["span"].format("start_at", f"{spell['least']}(end_at, {midnight})"))
    else:
        pieces = BY_AGENT.format(span=spell["span"].format("start_at", "end_at"))
    sql = REPORT.format(
        pieces=pieces, greatest=spell["greatest"], only_agent="" if agent_id is None else "AND a.id = :agent_id",
        day_text=spell["day_text"].format("b.day") if by_day else "NULL", total=total("total", summed=False),
        **{column: total(column) for column in ("online", "busy", "away", "offline", "available")},
    )
    return text(sql).bindparams(bindparam("since", type_=DateTime()), bindparam("until", type_=DateTime()))


def time_in_status(actor, since, until, agent_id=None, group_by="agent"):
    """Seconds in each status per agent (and UTC day) between since and until (or now, if earlier)."""
    if agent_id is not None:
        check_readable(actor, agent_id)
    elif not actor.is_supervisor:
        agent_id = actor.agent_id  # an agent's report is its own row
    end = min(until, db.session.scalar(select(now())))
    params = {"org": actor.org, "since": since, "until": max(end, since)}
    if agent_id is not None:
        params["agent_id"] = agent_id
    statement = _statement(db.engine.dialect.name, agent_id, group_by == "day")
    result = db.session.execute(statement, params).all()
    db.session.commit()
    return {"rows": _rows(result, group_by == "day"), "since": iso(since), "until": iso(until)}


def _rows(result, by_day):
    """Shape the database's totals: one row per agent (and day), its codes' seconds inside it."""
    rows = {}
    for r in result:
        if r.code is None:
            row = {"agent_id": r.agent_id, "name": r.name}
            if by_day:
                row["day"] = r.day
            row.update(seconds={s: getattr(r, s) for s in STATUSES}, available_seconds=r.secs, by_reason_code={})
            rows[r.agent_id, r.day] = row
    for r in result:
        if r.code is not None:
            rows[r.agent_id, r.day]["by_reason_code"][r.code] = r.secs
    return [rows[key] for key in sorted(rows)]


def as_csv(report, by_day):
    """The report's rows as CSV: one column per status, then one per reason code seen."""
    codes = sorted({code for row in report["rows"] for code in row["by_reason_code"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["agent_id", "name", *(["day"] if by_day else []), *STATUSES, "available_seconds",
                     *(f"reason_code:{code}" for code in codes)])
    for row in report["rows"]:
        writer.writerow([row["agent_id"], _cell(row["name"]), *([row["day"]] if by_day else []),
                         *(row["seconds"][s] for s in STATUSES), row["available_seconds"],
                         *(row["by_reason_code"].get(code, 0) for code in codes)])
    return out.getvalue()


def _cell(value):
    # A name that a spreadsheet would read as a formula is kept as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
