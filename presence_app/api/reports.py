"""Supervisors' records: one agent's change history and time in status, as JSON or CSV."""
from flask import request

from ..openapi import documented
from ..schemas.base import load
from ..schemas.reports import HistoryQuery, ReportQuery
from ..services import history, reports
from ..shapes.reports import History, Report
from . import bp, caller


@bp.get("/presence/<int:agent_id>/history/")
@documented(History, query=HistoryQuery, errors=(403,))
def agent_history(agent_id):
    """An agent's recorded changes, oldest first, a page at a time."""
    return history.changes(caller(), agent_id, **load(HistoryQuery, request.args.to_dict()))


@bp.get("/reports/time-in-status/")
@documented(Report, query=ReportQuery, errors=(403, 404), also={"text/csv": {"type": "string"}})
def time_in_status():
    """Seconds in each status per agent (or per agent and UTC day), from the ledger."""
    query = load(ReportQuery, request.args.to_dict())
    fmt, by_day = query.pop("format"), query["group_by"] == "day"
    report = reports.time_in_status(caller(), **query)
    if fmt == "json":
        return report
    headers = {"Content-Disposition": 'attachment; filename="time-in-status.csv"'}
    return reports.as_csv(report, by_day), 200, {"Content-Type": "text/csv; charset=utf-8", **headers}
