#!/usr/bin/env python3
"""Developer entry: `./dev.py run` serves embedded mode on :8001; `./dev.py test` runs every test;
`./dev.py prod` runs the production topology locally (release, two web processes and a worker);
`./dev.py cluster` runs it whole behind HAProxy, with PostgreSQL and Redis of its own (deploy/).

Both need only Python 3.11+: they make .venv, install the hashed locks (requirements.txt,
requirements-dev.txt) when those change, and (run) apply migrations and create the demo agents
first. `./dev.py lock` rewrites both locks from requirements.in and requirements-dev.in.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import venv

from deploy import cluster as deploy_cluster

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
PYTHON = os.path.join(BIN, "python")
JS_TESTS = os.path.join(ROOT, "tests", "js")
LOCKS = (("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt"))
# One lock for every platform and Python 3.11+, with the hash of every file of each release.
LOCK_OPTIONS = ("--universal", "--python-version", "3.11", "--generate-hashes", "--quiet",
                "--custom-compile-command", "./dev.py lock")


def _say(message):
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def _digest(*paths):
    sha = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            sha.update(handle.read())
    return sha.hexdigest()


def _up_to_date(stamp_name, digest):
    stamp = os.path.join(VENV, stamp_name)
    if os.path.exists(stamp):
        with open(stamp) as handle:
            return handle.read() == digest, stamp
    return False, stamp


def _pip(*args):
    subprocess.check_call([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args])


def _make_venv():
    if not os.path.exists(PYTHON):
        _say("creating .venv")
        venv.create(VENV, with_pip=True)


def ensure_venv(requirements):
    """Create .venv and install the lock `requirements` into it, only when it changed."""
    _make_venv()
    lock = os.path.join(ROOT, requirements)
    fresh, stamp = _up_to_date(f".stamp-{requirements}", _digest(lock))
    if not fresh:
        _say(f"installing {requirements}")
        _pip("--require-hashes", "-r", lock)
        with open(stamp, "w") as handle:
            handle.write(_digest(lock))


def ensure_js_deps():
    """Install tests/js (socket.io-client, typescript, @asyncapi/specs) when Node.js and npm are present."""
    npm = shutil.which("npm")
    if not (npm and shutil.which("node") and os.path.exists(os.path.join(JS_TESTS, "package.json"))):
        _say("Node.js/npm not found: the JavaScript client tests will be skipped")
        return
    lock = os.path.join(JS_TESTS, "package-lock.json")
    fresh, stamp = _up_to_date(".stamp-js", _digest(lock if os.path.exists(lock) else
                                                    os.path.join(JS_TESTS, "package.json")))
    if not fresh or not os.path.isdir(os.path.join(JS_TESTS, "node_modules")):
        _say("installing the JavaScript test client")
        subprocess.check_call([npm, "ci" if os.path.exists(lock) else "install", "--no-audit", "--no-fund",
                               "--silent"], cwd=JS_TESTS)
        with open(stamp, "w") as handle:
            handle.write(_digest(lock if os.path.exists(lock) else os.path.join(JS_TESTS, "package.json")))


def run(args):
    """Serve embedded mode: SQLite, no Redis, jobs in-process, http://127.0.0.1:8001."""
    ensure_venv("requirements.txt")
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    env.setdefault("PORT", "8001")
    env.setdefault("HOST", "127.0.0.1")
    flask = [PYTHON, "-m", "flask", "--app", "presence_app"]
    subprocess.check_call(flask + ["db", "upgrade"], env=env, cwd=ROOT)
    if env["APP_ENV"] == "development":
        subprocess.check_call(flask + ["demo-agents"], env=env, cwd=ROOT)
    _say(f"serving on http://{env['HOST']}:{env['PORT']} (Ctrl-C stops)")
    os.chdir(ROOT)
    os.execve(PYTHON, [PYTHON, "wsgi.py", *args], env)


def prod(_args):
    """Production topology on this machine: release, web on PORT and PORT+1, a worker; Ctrl-C or SIGTERM stops all."""
    env = dict(os.environ)
    env.setdefault("APP_ENV", "production")
    env.setdefault("PYTHONUNBUFFERED", "1")
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name)]
    if env["APP_ENV"] == "production" and not env.get("JWT_SECRET_KEY"):
        missing.append("JWT_SECRET_KEY")
    if missing:
        sys.exit(f"dev.py prod: set {', '.join(missing)} (a PostgreSQL database, a Redis and, in production, the "
                 "token key), e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres "
                 "REDIS_URL=redis://127.0.0.1:6379/0 JWT_SECRET_KEY=$(python3 -c 'import secrets; "
                 "print(secrets.token_urlsafe(48))') ./dev.py prod")
    ensure_venv("requirements.txt")
    port = int(env.get("PORT") or 8001)
    _say("release: flask db upgrade")
    if subprocess.call([PYTHON, "-m", "flask", "--app", "presence_app", "db", "upgrade"], env=env, cwd=ROOT):
        sys.exit("dev.py prod: the release (flask db upgrade) failed; nothing was started")
    # The Procfile's commands with .venv's python; each child in its own process group, so that
    # a Ctrl-C reaches it once, forwarded from here, never twice (RQ takes a second one as "kill now").
    plan = (("web1", "wsgi.py", port), ("web2", "wsgi.py", port + 1), ("worker", "worker.py", None))
    children = {name: subprocess.Popen([PYTHON, script], cwd=ROOT, process_group=0,
                                       env=dict(env, PORT=str(at)) if at else env) for name, script, at in plan}
    _say(f"web1 on :{port}, web2 on :{port + 1}, worker: pids "
         + ", ".join(f"{name} {child.pid}" for name, child in children.items()) + " (Ctrl-C stops them)")
    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    while not stopping and all(child.poll() is None for child in children.values()):
        time.sleep(0.2)
    sys.exit(deploy_cluster.stop_all(children, stopping, _say))


def cluster(_args):
    """The whole topology behind HAProxy: PostgreSQL, Redis, 3 web processes, 2 workers; Ctrl-C or SIGTERM stops all."""
    ensure_venv("requirements.txt")
    sys.exit(deploy_cluster.run(PYTHON, _say))


def test(args):
    """Run the whole suite (pytest arguments pass through)."""
    ensure_venv("requirements-dev.txt")
    ensure_js_deps()
    os.chdir(ROOT)
    os.execv(PYTHON, [PYTHON, "-m", "pytest", *args])


def install(_args):
    """Make .venv and install the development lock, as `test` does first (CI checks it then)."""
    ensure_venv("requirements-dev.txt")


def _uv():
    """uv at the version pinned in requirements-dev.in, in .venv."""
    with open(os.path.join(ROOT, "requirements-dev.in")) as handle:
        pin = next(line.strip() for line in handle if line.startswith("uv=="))
    uv = os.path.join(BIN, "uv")
    found = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout if os.path.exists(uv) else ""
    if found.split()[1:2] != [pin.split("==")[1]]:
        # Not from the dev lock: a lock being fixed (say, after a merge) may not install.
        _make_venv()
        _pip(pin)
    return uv


def _pip_index():
    """The index-url pip is configured with, if any, so that uv locks from the same place."""
    listed = subprocess.run([PYTHON, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    found = dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)
    return next((found[key].strip("'\"") for key in (":env:.index-url", "install.index-url", "global.index-url")
                 if key in found), None)


def lock(args):
    """Rewrite requirements.txt and requirements-dev.txt from the .in files (uv arguments pass through)."""
    uv = _uv()
    # Native TLS: the system's certificates, as pip uses, so a proxy's own CA works too.
    env = dict(os.environ, UV_NATIVE_TLS="1")
    index = _pip_index()
    if index and not {"UV_DEFAULT_INDEX", "UV_INDEX_URL"} & set(env):
        env["UV_DEFAULT_INDEX"] = index
    for source, target in LOCKS:
        _say(f"locking {source} into {target}")
        if subprocess.call([uv, "pip", "compile", source, "-o", target, *LOCK_OPTIONS, *args], cwd=ROOT, env=env):
            sys.exit(f"dev.py: uv could not lock {source} (above); if {target} has merge conflicts, "
                     f"take one side (git checkout --theirs {target}) and lock again")


if __name__ == "__main__":
    commands = {"run": run, "prod": prod, "cluster": cluster, "test": test, "install": install, "lock": lock}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: ./dev.py run | ./dev.py prod | ./dev.py cluster | ./dev.py test [pytest args] | "
                 "./dev.py install | ./dev.py lock [uv args]")
    commands[sys.argv[1]](sys.argv[2:])
