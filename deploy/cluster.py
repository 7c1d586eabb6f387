"""`./dev.py cluster`: PostgreSQL, Redis, HAProxy, 3 web processes and 2 workers on this machine.

Standard library only (dev.py runs it before .venv exists); tests/test_cluster.py renders its
HAProxy configuration with render_haproxy too.
"""
import contextlib
import glob
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy.cfg")
WEBS, WORKERS = 3, 2
STOP_SECONDS = 10  # a child that has not stopped this long after SIGTERM is killed
HINTS = {
    "postgres": "PostgreSQL is not installed: apt-get install postgresql (Debian/Ubuntu) or brew install postgresql",
    "redis-server": "Redis is not installed: apt-get install redis-server (Debian/Ubuntu) or brew install redis",
    "haproxy": "HAProxy is not installed: apt-get install haproxy (Debian/Ubuntu; .ci/install-haproxy does it) "
               "or brew install haproxy",
}


def render_haproxy(bind_port, web_ports, stats_socket=None, template=None):
    """deploy/haproxy.cfg on `bind_port`, one server line per port of `web_ports`, and a stats socket if given."""
    if template is None:
        with open(HAPROXY_CFG) as handle:
            template = handle.read()
    text = re.sub(r"^(\s*bind )\S+", rf"\g<1>127.0.0.1:{bind_port}", template, count=1, flags=re.M)
    # HAProxy refuses to start if it cannot open two descriptors per connection of maxconn (ulimit -Hn).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        text = re.sub(r"^(\s*maxconn )(\d+)", lambda m: m[1] + str(min(int(m[2]), (hard - 1000) // 2)), text,
                      count=1, flags=re.M)
    if stats_socket:
        text = text.replace("\nglobal\n", f"\nglobal\n    stats socket {stats_socket} mode 600 level admin\n", 1)
    servers = list(re.finditer(r"^(\s*)server \S+ \S+ cookie \S+\n", text, flags=re.M))
    indent = servers[0][1]
    lines = "".join(f"{indent}server web{n} 127.0.0.1:{port} cookie web{n}\n" for n, port in enumerate(web_ports, 1))
    return text[:servers[0].start()] + lines + text[servers[-1].end():]


def haproxy_states(stats_socket):
    """{server name: status} of the web backend, from HAProxy's stats socket ("UP", "DOWN", "UP 1/2", ...)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(stats_socket)
        sock.sendall(b"show stat\n")
        answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    lines = [line.split(",") for line in answer.splitlines() if line and not line.startswith("#")]
    header = answer.splitlines()[0].lstrip("# ").split(",")
    status = header.index("status")
    return {row[1]: row[status] for row in lines if row[0] == "web" and row[1] not in ("BACKEND", "FRONTEND")}


def free_port():
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find(program):
    """The path of `program` (PATH, then Debian's sbin and PostgreSQL folders), or exit with how to install it."""
    found = shutil.which(program) or next((path for path in (f"/usr/sbin/{program}", f"/usr/local/sbin/{program}")
                                           if os.access(path, os.X_OK)), None)
    if program == "postgres":
        found = (sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres")) or [found])[-1]
    if not found:
        sys.exit(f"dev.py cluster: {HINTS[program]}")
    return found


def healthy(url):
    """True when `url`/health answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def wait(predicate, seconds, what, child):
    deadline = time.monotonic() + seconds
    while not predicate():
        if child.poll() is not None:
            raise RuntimeError(f"{what} exited (status {child.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {seconds} s")
        time.sleep(0.1)


class Postgres:
    """A PostgreSQL cluster of its own in `folder`, on a free port; as `postgres` when run as root."""

    def __init__(self, folder):
        self.bin = os.path.dirname(find("postgres"))
        self.dir, self.port = folder, free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/presence"

    def _run(self, program, *args):
        command = [os.path.join(self.bin, program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
        self._run("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "postgres.log"), "-w", "-o", options, "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "presence")
        return self

    def stop(self):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w", "stop")


def stop_all(children, stopping, say):
    """SIGTERM every child still running, wait, kill the stragglers; the exit status of the whole."""
    ended = [name for name, child in children.items() if child.poll() is not None]
    if ended and not stopping:
        say(f"{', '.join(ended)} exited; stopping the others")
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop within {STOP_SECONDS} s; killing it")
            child.kill()
            child.wait()
    say("stopped")
    return 0 if stopping else 1


def run(python, say):
    """Start the whole topology, print the balancer's address, stop everything on Ctrl-C or SIGTERM."""
    redis, haproxy = find("redis-server"), find("haproxy")
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    folder = tempfile.mkdtemp(prefix="presence-cluster-")
    postgres, services, apps = Postgres(folder), {}, {}
    try:
        postgres.start()
        redis_port = free_port()
        services["redis"] = _spawn([redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                                    "--appendonly", "no", "--dir", folder], folder, "redis")
        env = dict(os.environ, DATABASE_URL=postgres.url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                   PYTHONUNBUFFERED="1")
        env.setdefault("APP_ENV", "production" if env.get("JWT_SECRET_KEY") else "development")
        env.setdefault("TRUSTED_PROXY_COUNT", "1")  # HAProxy's X-Forwarded-For names the client
        flask = [python, "-m", "flask", "--app", "presence_app"]
        subprocess.run(flask + ["db", "upgrade"], env=env, cwd=ROOT, check=True)
        if env["APP_ENV"] == "development":
            subprocess.run(flask + ["demo-agents"], env=env, cwd=ROOT, check=True)
        ports = [free_port() for _ in range(WEBS)]
        for n, port in enumerate(ports, 1):
            apps[f"web{n}"] = _spawn([python, "wsgi.py"], None, f"web{n}", dict(env, PORT=str(port), HOST="127.0.0.1"))
        for n in range(1, WORKERS + 1):
            apps[f"worker{n}"] = _spawn([python, "worker.py"], None, f"worker{n}", env)
        for n, port in enumerate(ports, 1):
            wait(lambda port=port: healthy(f"http://127.0.0.1:{port}") or stopping, 60, f"web{n}", apps[f"web{n}"])
        balancer = free_port()
        config = os.path.join(folder, "haproxy.cfg")
        with open(config, "w") as handle:
            handle.write(render_haproxy(balancer, ports, os.path.join(folder, "haproxy.sock")))
        apps["haproxy"] = _spawn([haproxy, "-db", "-f", config], folder, "haproxy")
        url = f"http://127.0.0.1:{balancer}"
        wait(lambda: healthy(url) or stopping, 30, f"haproxy (its log: {folder}/haproxy.log)", apps["haproxy"])
        say(f"web on :{', :'.join(map(str, ports))}, {WORKERS} workers, Redis on :{redis_port}, PostgreSQL on "
            f":{postgres.port}, files in {folder} (Ctrl-C stops them)")
        print(f"presence_app cluster at {url}", flush=True)
        while not stopping and all(child.poll() is None for child in {**apps, **services}.values()):
            time.sleep(0.2)
        return stop_all(apps, stopping, say)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        say(f"cluster: {exc}; stopping what started")
        return 1
    finally:
        stop_all(apps, ["cleanup"], lambda _message: None)
        stop_all(services, ["cleanup"], lambda _message: None)
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _spawn(argv, folder, name, env=None):
    # Each child in its own process group: a Ctrl-C reaches it once, forwarded from here, never twice.
    log = open(os.path.join(folder, f"{name}.log"), "wb") if folder else None  # noqa: SIM115 - the child's
    return subprocess.Popen(argv, cwd=ROOT, env=env, process_group=0, stdout=log, stderr=subprocess.STDOUT if log
                            else None)
