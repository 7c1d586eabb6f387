#!/usr/bin/env python3
"""Developer entry: `./dev.py run` serves embedded mode on :8001; `./dev.py test` runs every test.

Both need only Python 3.11+: they make .venv, install the pinned requirements when those
change, and (run) apply migrations and create the demo agents first.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
PYTHON = os.path.join(BIN, "python")
JS_TESTS = os.path.join(ROOT, "tests", "js")


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
    if os.path.exists(stamp) and open(stamp).read() == digest:
        return True, stamp
    return False, stamp


def ensure_venv(requirements):
    """Create .venv and install `requirements` into it, only when they changed."""
    if not os.path.exists(PYTHON):
        _say("creating .venv")
        venv.create(VENV, with_pip=True)
    files = [os.path.join(ROOT, name) for name in ("requirements.txt", requirements)]
    fresh, stamp = _up_to_date(f".stamp-{requirements}", _digest(*files))
    if not fresh:
        _say(f"installing {requirements}")
        subprocess.check_call([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-r", os.path.join(ROOT, requirements)])
        with open(stamp, "w") as handle:
            handle.write(_digest(*files))


def ensure_js_deps():
    """Install the JavaScript test client (socket.io-client) when Node.js and npm are present."""
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


def test(args):
    """Run the whole suite (pytest arguments pass through)."""
    ensure_venv("requirements-dev.txt")
    ensure_js_deps()
    os.chdir(ROOT)
    os.execv(PYTHON, [PYTHON, "-m", "pytest", *args])


if __name__ == "__main__":
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: ./dev.py run | ./dev.py test [pytest args]")
    commands[sys.argv[1]](sys.argv[2:])
