"""Time in status, computed by the database from the ledger (docs/supervisors.md)."""
import csv
import io
from datetime import timedelta

from sqlalchemy import DateTime, bindparam, func, select, text, update

from ..dbtime import now
from ..extensions import db
from ..models import PresenceChange, ReportRollup
from ..schemas.base import iso
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
        "from_seconds": "make_interval(secs => {0})",
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
        "from_seconds": "{0}",
    },
}

# Every agent's spans in each state between :since and :until, cut at each UTC midnight, read from
# the ledger outside the rolled-up days [:roll_from, :roll_to) (report days hold those). Each
# agent's changes from its last one before `since` are ordered by seq in one window: LEAD gives
# each change the time the next one began; the first is counted from `since`. An agent with no
# change before `since` was offline until its first one. At every midnight a mark takes over: the
# state of the agent's last change before that midnight, until its next change.
SPANS = """
WITH RECURSIVE
scope AS (
    SELECT a.id AS agent_id, a.name, a.org,
           (SELECT MAX(c.at) FROM presence_changes c WHERE c.agent_id = a.id AND c.at < :since) AS from_at
    FROM agents a {scope}
),
changes AS (
    SELECT c.agent_id, c.seq, c.at, c.to_status, c.websocket_connected, c.reason_code
    FROM scope s JOIN presence_changes c ON c.agent_id = s.agent_id
    WHERE c.at >= COALESCE(s.from_at, :since) AND c.at < :roll_from
    UNION ALL
    SELECT c.agent_id, c.seq, c.at, c.to_status, c.websocket_connected, c.reason_code
    FROM scope s JOIN presence_changes c ON c.agent_id = s.agent_id
    WHERE c.at >= :roll_to AND c.at < :until
),
ledger AS (
    SELECT agent_id, to_status AS status, websocket_connected AS connected, reason_code AS code,
           {greatest}(at, :since) AS start_at,
           COALESCE(LEAD(at) OVER (PARTITION BY agent_id ORDER BY seq), :until) AS end_at
    FROM changes
    UNION ALL
    SELECT s.agent_id, 'offline', false, NULL, :since,
           COALESCE((SELECT MIN(c.at) FROM presence_changes c
                     WHERE c.agent_id = s.agent_id AND c.at >= :since AND c.at < :until), :until)
    FROM scope s WHERE s.from_at IS NULL
),
days(day) AS (
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
    FROM scope s CROSS JOIN days d WHERE d.day < :until AND d.day >= :roll_to
),
pieces AS (
    SELECT agent_id, status, connected, code, start_at, end_at FROM ledger
    UNION ALL
    SELECT m.agent_id, COALESCE(p.to_status, 'offline'), COALESCE(p.websocket_connected, false), p.reason_code,
           m.start_at, m.end_at
    FROM marks m LEFT JOIN presence_changes p ON p.agent_id = m.agent_id AND p.seq = m.prior_seq
),
cut AS (
    SELECT agent_id, status, connected, code, day, CASE WHEN end_at > start_at THEN {clipped_span} END AS span
    FROM (SELECT pieces.*, {day} AS day FROM pieces) AS dated
    WHERE start_at < :roll_from OR start_at >= :roll_to
)"""
# The report: the ledger's spans, and for rolled-up days their report days, where an agent's time
# offline without a code is the rest of the day (an agent created later has no row: offline).
REPORT = """,
rolled_days(day) AS (
    SELECT :roll_from WHERE :roll_from < :roll_to
    UNION ALL
    SELECT {next_midnight_day} FROM rolled_days WHERE {next_midnight_day} < :roll_to
),
stored AS (
    SELECT * FROM report_days r WHERE r.org = :org {only_agent_r} AND r.day >= :roll_from AND r.day < :roll_to
),
rolled AS (
    SELECT r.agent_id, r.status, r.connected, r.reason_code AS code, {rolled_day}, {rolled_span} AS span
    FROM stored r
    UNION ALL
    SELECT s.agent_id, 'offline', false, NULL, {rest_day}, {rest_span}
    FROM scope s CROSS JOIN rolled_days d
    LEFT JOIN (SELECT agent_id, day, SUM(seconds) AS seconds FROM stored GROUP BY agent_id, day) t
        ON t.agent_id = s.agent_id AND t.day = d.day
),
timed AS (
    SELECT agent_id, status, connected, code, {bucket} AS day, span
    FROM (SELECT * FROM cut UNION ALL SELECT * FROM rolled) AS spans
),
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
# Rolling up one day [:since, :until) for every agent: each state's seconds, but offline without a code.
ROLL_UP = """
INSERT INTO report_days (agent_id, org, day, status, connected, reason_code, seconds)
SELECT c.agent_id, s.org, :since, c.status, c.connected, c.code, COALESCE({seconds_sum}, 0)
FROM cut c JOIN scope s ON s.agent_id = c.agent_id
WHERE c.status <> 'offline' OR c.code IS NOT NULL
GROUP BY c.agent_id, s.org, c.status, c.connected, c.code
"""
DAY_SECONDS = 86400
ROLL_UP_MARGIN = timedelta(minutes=15)  # a day is rolled up once every transaction of it has committed
ROLL_UP_DAYS = 31  # at most this many days a pass, so a first pass over a long ledger stays short


def _spans(spell, scope):
    """The CTEs of SPANS for one dialect, over the agents that `scope` (a WHERE clause) selects."""
    return SPANS.format(
        scope=scope, greatest=spell["greatest"], day=spell["day"].format("start_at"),
        next_midnight_since=spell["next_midnight"].format(":since"),
        next_midnight_day=spell["next_midnight"].format("day"),
        clipped_span=spell["span"].format("start_at", f"{spell['least']}(end_at, {spell['day_end'].format('day')})"))


def _typed(sql):
    names = ("since", "until", "roll_from", "roll_to")
    return text(sql).bindparams(*(bindparam(name, type_=DateTime()) for name in names if f":{name}" in sql))


def _statement(dialect, agent_id, by_day):
    spell = DIALECTS[dialect]

    def total(column, summed=True):
        inner = f"SUM(b.{column})" if summed else f"b.{column}"
        return f"COALESCE(CAST(ROUND({spell['seconds'].format(inner)}) AS BIGINT), 0)"

    only_agent = "" if agent_id is None else "AND a.id = :agent_id"
    report = REPORT.format(
        next_midnight_day=spell["next_midnight"].format("day"),
        only_agent_r="" if agent_id is None else "AND r.agent_id = :agent_id",
        rolled_day=spell["day"].format("r.day"), rest_day=spell["day"].format("d.day"),
        rolled_span=spell["from_seconds"].format("r.seconds"),
        rest_span=spell["from_seconds"].format(f"{DAY_SECONDS} - COALESCE(t.seconds, 0)"),
        bucket="day" if by_day else "NULL",
        day_text=spell["day_text"].format("b.day") if by_day else "NULL", total=total("total", summed=False),
        **{column: total(column) for column in ("online", "busy", "away", "offline", "available")},
    )
    return _typed(_spans(spell, f"WHERE a.org = :org {only_agent}") + report)


def _roll_up_statement(dialect):
    spell = DIALECTS[dialect]
    return _typed(_spans(spell, "") + ROLL_UP.format(seconds_sum=spell["seconds"].format("SUM(c.span)")))


def _midnight(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _rolled(since, until):
    """The rolled-up days [first, last) inside since..until; (since, since) when there are none."""
    through = db.session.scalar(select(ReportRollup.through).where(ReportRollup.id == 1))
    first = since if since == _midnight(since) else _midnight(since) + timedelta(days=1)
    last = None if through is None else min(through + timedelta(days=1), _midnight(until))
    return (first, last) if last is not None and last > first else (since, since)


def roll_up(batch=ROLL_UP_DAYS):
    """Write report days for the closed UTC days after the last one written, oldest first; return how many."""
    statement, done = _roll_up_statement(db.engine.dialect.name), 0
    while done < batch and (day := _next_day()) is not None:
        db.session.execute(statement, {"since": day, "until": day + timedelta(days=1), "roll_from": day,
                                       "roll_to": day})
        _written(day)
        db.session.commit()  # a day at a time: short locks, and a pass cut short keeps what it wrote
        done += 1
    db.session.commit()
    return done


def _written(day):
    db.session.execute(update(ReportRollup).where(ReportRollup.id == 1).values(through=day))


def _next_day():
    """Lock the roll-up's row and return the next closed day to write, or None."""
    through = db.session.scalar(select(ReportRollup.through).where(ReportRollup.id == 1).with_for_update())
    last_closed = _midnight(db.session.scalar(select(now())) - ROLL_UP_MARGIN) - timedelta(days=1)
    if through is not None:
        day = through + timedelta(days=1)
    else:
        first = db.session.scalar(select(func.min(PresenceChange.at)))
        if first is None:  # no ledger yet: every closed day was offline for everyone, nothing to write
            _written(last_closed)
            return None
        day = _midnight(first)
    return day if day <= last_closed else None


def time_in_status(actor, since, until, agent_id=None, group_by="agent"):
    """Seconds in each status per agent (and UTC day) between since and until (or now, if earlier)."""
    if agent_id is not None:
        check_readable(actor, agent_id)
    elif not actor.reads_org:
        agent_id = actor.agent_id  # an agent's report is its own row
    end = max(min(until, db.session.scalar(select(now()))), since)
    roll_from, roll_to = _rolled(since, end)
    params = {"org": actor.org, "since": since, "until": end, "roll_from": roll_from, "roll_to": roll_to}
    if agent_id is not None:
        params["agent_id"] = agent_id
    statement = _statement(db.engine.dialect.name, agent_id, group_by == "day")
    result = db.session.execute(statement, params).all()
    db.session.commit()
    return {"rows": _rows(result, group_by == "day"), "since": iso(since), "until": iso(until)}


def _rows(result, by_day):
    """Shape the database's totals: one row per agent (and day), its codes' seconds inside it."""
    rows, codes = {}, []
    for agent_id, name, day, code, online, busy, away, offline, secs in result:
        if code is not None:
            codes.append((agent_id, day, code, secs))
            continue
        row = {"agent_id": agent_id, "name": name, "day": day} if by_day else {"agent_id": agent_id, "name": name}
        row["seconds"] = {"online": online, "busy": busy, "away": away, "offline": offline}
        row["available_seconds"], row["by_reason_code"] = secs, {}
        rows[agent_id, day] = row
    for agent_id, day, code, secs in codes:
        rows[agent_id, day]["by_reason_code"][code] = secs
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
