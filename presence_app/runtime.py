"""Long-running loops: a web process's beat and embedded jobs, and the worker's scheduler."""
import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import current_app

from . import logs, metrics, notify
from .errors import translate
from .extensions import db, socketio
from .jobs import PERIODIC
from .services import agents, connections, rosters, routing
from .sockets import expire_sessions, live_sockets, opening_sockets

log = logging.getLogger(__name__)
QUEUE = "presence"
LEADER_KEY = "presence:scheduler:leader"
SESSION_CHECK_SECONDS = 1  # sockets whose token expired are told and closed within this (+ the loop's work)
DEPARTURES_CHECK_SECONDS = 1  # another process's deactivation reaches this one's cache and sockets within this
DRAIN_SECONDS = 0.5  # on a clean stop: for requests in flight to finish
STOPPING = "presence_stopping"
REDIS_CONNECT_SECONDS = 5  # the worker's Redis: an unreachable one is retried, never waited on forever
BEAT_RETRY_SECONDS = 1  # after a failed beat (the database away): the next try, so its rows are mended soon after


def start_web(app):
    """Register this web process, then start its beat and, in embedded mode, the jobs."""
    with app.app_context():
        connections.register_process(app.config["PROCESS_ID"])
        routing.reconcile_spare()
    app.extensions[STOPPING] = threading.Event()
    beat = app.config["PROCESS_BEAT_SECONDS"]
    socketio.start_background_task(_every, app, beat, _beat, "beat", min(beat, BEAT_RETRY_SECONDS))
    socketio.start_background_task(_every, app, SESSION_CHECK_SECONDS, lambda: expire_sessions(app), "sessions")
    socketio.start_background_task(_every, app, DEPARTURES_CHECK_SECONDS, _departures, "departures")
    if not app.config["REDIS_URL"]:
        for job in PERIODIC:
            socketio.start_background_task(_every, app, app.config[job.every], job.func, job.name)
    if app.config["METRICS_LOG_SECONDS"]:
        counters = metrics.CounterLog(app.config["METRICS_SOURCE"] or f"web.{app.config['PROCESS_ID']}")
        socketio.start_background_task(_every, app, app.config["METRICS_LOG_SECONDS"],
                                       lambda: log.info(counters.line()), "metrics-log")


def stop_web(app):
    """A clean stop: let in-flight requests finish, then retire this process's sockets in the database.

    The sockets themselves close when the process exits: clients see their transport close (no
    Socket.IO disconnect, which would tell them not to come back) and reconnect by themselves.
    """
    app.extensions[STOPPING].set()  # no more beats or jobs from this process
    notify.stop(app)
    log.info("stopping: retiring this process's sockets, their agents go through the disconnect grace")
    socketio.sleep(DRAIN_SECONDS)
    live_sockets(app).clear()
    with app.app_context():
        try:
            connections.retire_process(app.config["PROCESS_ID"])
        except Exception as exc:  # noqa: BLE001 - the database is away: the reaper takes the sockets later
            log.warning("could not retire this process (%s); its sockets will be reaped", exc)
            db.session.rollback()


def _beat():
    sockets = live_sockets()
    present = lambda: ({sid: s.identity for sid, s in list(sockets.items())}, set(opening_sockets()))  # noqa: E731
    connections.beat(current_app.config["PROCESS_ID"], present)
    notify.database_time(rosters.database_now())  # cursors made by this process use the database's clock


def _departures():
    agents.close_departed({sid: socket.identity.agent_id for sid, socket in list(live_sockets().items())})


def _every(app, seconds, func, name, retry=None):
    """Run `func` every `seconds`; after a failed pass, every `retry` seconds until one succeeds."""
    stopping, pause = app.extensions[STOPPING], seconds
    while True:
        socketio.sleep(pause)
        if stopping.is_set():
            return
        pause = seconds
        with app.app_context():
            try:
                func()
            except Exception as exc:  # noqa: BLE001 - a failed pass must not end the loop
                if translate(exc) is None:
                    log.exception("periodic %s failed", name)
                db.session.rollback()
                pause = retry or seconds


def job_id(job):
    """The fixed id of a periodic job in rq-scheduler, so re-registering replaces it."""
    # RQ accepts only letters, digits, underscores and dashes in a job id.
    return f"presence-periodic-{job.name}"


def register_schedules(scheduler, config):
    """Put each periodic job in rq-scheduler once, replacing what an earlier start left."""
    for job in PERIODIC:
        if job_id(job) in scheduler:
            scheduler.cancel(job_id(job))
        first = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
        scheduler.schedule(first, job.func, id=job_id(job), interval=max(1, int(config[job.every])),
                           timeout=max(30, int(config[job.every]) * 2), queue_name=QUEUE)


def lead_scheduler(connection, config, stop):
    """Run rq-scheduler while this worker holds the leader lease; exactly one leads."""
    from redis.exceptions import LockError, RedisError
    from rq_scheduler import Scheduler

    poll = config["SCHEDULER_POLL_SECONDS"]
    scheduler = Scheduler(queue_name=QUEUE, connection=connection, interval=poll)
    lease = connection.lock(LEADER_KEY, timeout=max(10, poll * 10), thread_local=False)
    leading = False
    while not stop.is_set():
        try:
            if leading:
                lease.reacquire()
            elif lease.acquire(blocking=False):
                # Lead only once the schedules are in: if registering fails, the lease lapses and is retried.
                register_schedules(scheduler, config)
                leading = True
                log.info("this worker leads the scheduler")
            if leading:
                scheduler.enqueue_jobs()
        except LockError:
            log.warning("scheduler lease lost; trying to lead again")
            leading = False
            continue  # a restarted (empty) Redis lost the lease: take it again now, not a poll later
        except RedisError as exc:
            log.warning("scheduler pass failed: Redis unavailable (%s)", exc)
        except Exception:  # noqa: BLE001 - a failed pass must not kill the scheduler thread
            log.exception("scheduler pass failed")
        stop.wait(poll)
    if leading:
        with contextlib.suppress(LockError):  # lost meanwhile: nothing to release
            lease.release()


def run_worker(app):
    """The Procfile's worker: one RQ worker, plus the scheduler if it wins the lease."""
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue, SimpleWorker
    from rq.job_lifecycle import call_exception_handlers

    class AppWorker(SimpleWorker):
        """Runs each job inside the app context, in this process (no fork per job)."""

        # Without Redis, retry every second (RQ backs off up to a minute): jobs resume right after it returns.
        max_connection_wait_time = 1.0

        def execute_job(self, job, queue):
            with app.app_context():
                return super().execute_job(job, queue)

        def handle_exception(self, job, *exc_info):
            # One line for an outage (every job fails alike while it lasts); a bug keeps its traceback.
            known = translate(exc_info[1])
            if known is not None:
                log.warning("job %s failed: %s", job.func_name, known.message)
            else:
                log.error("job %s failed", job.func_name, exc_info=exc_info)
            call_exception_handlers(self._exc_handlers, job, *exc_info)

    config = app.config
    logs.startup(config, "worker")
    if config["METRICS_PORT"]:
        metrics.serve_worker_metrics(config)
        log.info("metrics on http://%s:%s/metrics", config["HOST"], config["METRICS_PORT"])
    # A connect timeout only: RQ's blocking dequeue must not time out its reads.
    connection = Redis.from_url(config["REDIS_URL"], socket_connect_timeout=REDIS_CONNECT_SECONDS,
                                **config["REDIS_OPTIONS"])
    _wait_for(connection)
    stop = threading.Event()
    if config["METRICS_LOG_SECONDS"]:
        counters = metrics.CounterLog(config["METRICS_SOURCE"] or f"worker.{config['PROCESS_ID']}")
        threading.Thread(target=_log_counters, args=(counters, config["METRICS_LOG_SECONDS"], stop),
                         name="metrics-log", daemon=True).start()
    thread = threading.Thread(target=lead_scheduler, args=(connection, app.config, stop),
                              name="scheduler", daemon=True)
    thread.start()
    try:
        while True:
            try:
                # RQ says three INFO lines per job: periodic jobs would fill the log; failures come from
                # handle_exception.
                AppWorker([Queue(QUEUE, connection=connection)], connection=connection,
                          log_job_description=False).work(with_scheduler=False, logging_level="WARNING")
                return  # asked to stop
            except RedisError as exc:
                # RQ's loop lets some Redis errors out (and its teardown raises another): work again once
                # Redis answers, instead of leaving the jobs (the reaper among them) undone.
                log.warning("the worker lost Redis (%s); working again once it answers", exc)
                _wait_for(connection)
    finally:
        stop.set()
        thread.join(timeout=5)


def _log_counters(counters, seconds, stop):
    while not stop.wait(seconds):
        log.info(counters.line())


def _wait_for(connection):
    """A worker that starts while Redis is away waits for it (RQ would exit on its first command)."""
    from redis.exceptions import RedisError

    while True:
        try:
            connection.ping()
            return
        except RedisError as exc:
            log.warning("waiting for Redis: %s", exc)
            time.sleep(1)
