"""Scheduled job functions and the one list of periodic jobs."""
from collections.abc import Callable
from dataclasses import dataclass

from .metrics import timed_job
from .services import connections, deadlines, delivery, ledger, presence, reports, typing


@timed_job
def check_agent_presence_timeout():
    """Set offline (reason timeout) every agent with no socket and no sign of life."""
    return presence.expire_inactive()


@timed_job
def expire_stale_typing():
    """Stop every typing indicator not renewed within TYPING_TIMEOUT_SECONDS."""
    return typing.expire_stale()


@timed_job
def maintain_connections():
    """Reap sockets of dead web processes, then announce disconnects past their grace."""
    return {"reaped": connections.reap_dead_processes(), "settled": connections.settle()}


@timed_job
def expire_statuses():
    """Return each agent whose expiring status passed to the state before it (reason expired)."""
    return deadlines.expire_statuses()


@timed_job
def announce_status_overruns():
    """Tell supervisors, once each, of statuses that outlasted their reason code's max_minutes."""
    return deadlines.announce_overruns()


@timed_job
def roll_up_report_days():
    """Total each closed UTC day into report days, so that long time-in-status reports read days."""
    return reports.roll_up()


@timed_job
def deliver_webhooks():
    """Deliver due webhook messages: new batches of the outbox, and retries (each endpoint one at a time)."""
    return delivery.run()


@timed_job
def prune_webhook_log():
    """Forget webhook attempts and finished messages older than 30 days."""
    return delivery.prune()


@timed_job
def keep_ledger():
    """Create the ledger's coming months and drop those past LEDGER_RETENTION_DAYS (SQLite: delete rows)."""
    return ledger.keep()


@dataclass(frozen=True)
class Periodic:
    """A job and the config key holding its period in seconds."""

    name: str
    func: Callable
    every: str


PERIODIC = (
    Periodic("check_agent_presence_timeout", check_agent_presence_timeout, "PRESENCE_SWEEP_SECONDS"),
    Periodic("expire_stale_typing", expire_stale_typing, "TYPING_SWEEP_SECONDS"),
    Periodic("maintain_connections", maintain_connections, "PROCESS_BEAT_SECONDS"),
    Periodic("expire_statuses", expire_statuses, "STATUS_SWEEP_SECONDS"),
    Periodic("announce_status_overruns", announce_status_overruns, "STATUS_SWEEP_SECONDS"),
    Periodic("roll_up_report_days", roll_up_report_days, "REPORT_ROLLUP_SECONDS"),
    Periodic("deliver_webhooks", deliver_webhooks, "WEBHOOK_POLL_SECONDS"),
    Periodic("prune_webhook_log", prune_webhook_log, "REPORT_ROLLUP_SECONDS"),
    Periodic("keep_ledger", keep_ledger, "LEDGER_KEEP_SECONDS"),
)
