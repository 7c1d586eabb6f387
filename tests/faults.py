"""Servers a fault test may kill: a Redis and a PostgreSQL cluster of the test's own.

Killing them disturbs nothing else: each listens on a free port, with its files in the test's
temporary folder. PostgreSQL runs as the `postgres` user (through runuser when the suite runs
as root), from Debian's /usr/lib/postgresql/*/bin.
"""
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

import redis
from sqlalchemy import create_engine, text

from .support import Proc, free_port, redis_binary, wait_for


class RedisServer:
    """A redis-server on a fixed free port that can be killed, frozen and started again."""

    def __init__(self, tmp_dir):
        self.dir, self.port, self.proc = str(tmp_dir), free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        argv = [redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", self.dir]
        self.proc = Proc(argv, dict(os.environ), os.path.join(self.dir, f"redis-{time.monotonic_ns()}.log"))
        wait_for(self.pings, timeout=10, message="the test's redis-server")
        return self

    def pings(self):
        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def kill(self):
        self.proc.kill()

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def client(self):
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self):
        if self.proc is not None and self.proc.alive():
            self.thaw()
            self.proc.kill()


def postgres_bin():
    """The folder of initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def why_no_postgres():
    """Why a throwaway PostgreSQL cluster cannot run here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL's initdb/pg_ctl are not installed (Debian: postgresql)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


class PostgresCluster:
    """A PostgreSQL cluster of the test's own: initdb, start, stop (it keeps its data), start again."""

    def __init__(self):
        self.bin, self.port = postgres_bin(), free_port()
        # Under /tmp, not the test's folder: the postgres user must reach it (pytest's folders are root's).
        self.dir = tempfile.mkdtemp(prefix="presence-pg-")
        self.data = os.path.join(self.dir, "data")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/presence"

    def _run(self, *argv, timeout=120):
        command = [os.path.join(self.bin, argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def create(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "presence")
        return self

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def pids(self):
        """The postmaster of this cluster and its children (backends and helpers), nothing else."""
        with open(os.path.join(self.data, "postmaster.pid")) as handle:
            postmaster = int(handle.readline())
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True,
                                  text=True).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self):
        """SIGSTOP the cluster: it accepts connections (the kernel does) and answers nothing."""
        self.frozen = self.pids()
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        for pid in getattr(self, "frozen", []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def answers(self):
        try:
            engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg2://"),
                                   connect_args={"connect_timeout": 2})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            return True
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    def destroy(self):
        self.thaw()
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
