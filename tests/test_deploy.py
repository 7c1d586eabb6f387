"""What a platform deploys: app.json and the Procfile agree, the locks match their sources, production boots."""
import json
import os
import re
import secrets
import sys

import pytest

from .support import ROOT, Proc, free_port, wait_healthy


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def procfile():
    """Process type -> command, as a platform reads the Procfile."""
    return dict((part.strip() for part in line.split(":", 1)) for line in _read("Procfile").splitlines()
                if ":" in line and not line.startswith("#"))


def documented_settings():
    """The variables of the configuration table in docs/configuration.md."""
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", _read("docs/configuration.md"), re.M))


def settings_read_by_config():
    """Every environment variable presence_app/config.py reads."""
    source = _read("presence_app/config.py")
    return set(re.findall(r'(?:env\.get\(|_(?:number|count|limit)\(env, )"([A-Z][A-Z0-9_]*)"', source))


def pins(name):
    """{normalised name: {(version, marker), ...}} of a requirements file's `name==version` lines."""
    found = {}
    for line in _read(name).splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line)
        if match:
            key = re.sub(r"[-_.]+", "-", match[1]).lower()
            found.setdefault(key, set()).add((match[2], match[3] or ""))
    return found


def test_app_json_is_well_formed_and_runs_what_the_procfile_runs():
    app = json.loads(_read("app.json"))
    processes = procfile()
    assert set(app["formation"]) == set(processes) - {"release"} == {"web", "worker"}
    assert all(spec["quantity"] >= 1 for spec in app["formation"].values())
    assert app["scripts"] == {"postdeploy": processes["release"]}
    assert processes["release"] == "flask --app presence_app db upgrade"
    assert {addon["plan"].split(":")[0]: addon["as"] for addon in app["addons"]} == {
        "heroku-postgresql": "DATABASE", "heroku-redis": "REDIS"}
    assert app["env"]["APP_ENV"]["value"] == "production"
    assert app["env"]["TRUSTED_PROXY_COUNT"]["value"] == "1"  # the router's hop: else one login budget for all
    assert app["env"]["JWT_SECRET_KEY"] == {"description": app["env"]["JWT_SECRET_KEY"]["description"],
                                            "generator": "secret"}
    assert all(spec.get("description") for spec in app["env"].values())


def test_every_setting_app_json_names_or_its_add_ons_provide_is_in_the_configuration_table():
    app = json.loads(_read("app.json"))
    named = set(app["env"]) | {addon["as"] + "_URL" for addon in app["addons"]}
    assert named <= documented_settings(), named - documented_settings()


def test_every_setting_config_reads_is_in_the_configuration_table_and_nothing_else_is():
    read = settings_read_by_config()
    assert {"APP_ENV", "JWT_SECRET_KEY", "PORT", "COUNTS_INTERVAL_MS", "METRICS_LOG_SECONDS"} <= read
    assert read == documented_settings(), (read ^ documented_settings())


def test_release_and_web_commands_run_with_app_json_settings(tmp_path):
    """The Procfile's release then web, as a platform runs them with app.json's env (a secret like its generator's)."""
    app = json.loads(_read("app.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "REDIS_URL", "TEST_"))}
    env.update({name: spec["value"] for name, spec in app["env"].items() if "value" in spec})
    env.update(JWT_SECRET_KEY=secrets.token_hex(32), DATABASE_URL=f"sqlite:///{tmp_path / 'release.db'}",
               PORT=str(free_port()), PATH=os.path.dirname(sys.executable) + os.pathsep + env["PATH"],
               PYTHONUNBUFFERED="1")
    release = Proc(["bash", "-c", procfile()["release"]], env, str(tmp_path / "release.log"))
    assert release.popen.wait(timeout=120) == 0, release.log()
    release.kill()
    web = Proc(["bash", "-c", procfile()["web"]], env, str(tmp_path / "web.log"))
    try:
        wait_healthy(web, f"http://127.0.0.1:{env['PORT']}", name="Procfile web", timeout=60)
    finally:
        web.stop()


@pytest.mark.parametrize("source, lock", [("requirements.in", "requirements.txt"),
                                          ("requirements-dev.in", "requirements-dev.txt")])
def test_each_lock_pins_what_its_source_pins_with_hashes(source, lock):
    """A source edited without `./dev.py lock` fails here; every locked release carries its hashes."""
    locked = pins(lock)
    assert {name: {version for version, _ in found} for name, found in pins(source).items()} == {
        name: {version for version, _ in locked.get(name, ())} for name in pins(source)}
    text = _read(lock)
    assert "#    ./dev.py lock\n" in text
    entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    assert len(entries) == sum(len(found) for found in locked.values())
    assert all("--hash=sha256:" in entry for entry in entries)


def test_dev_lock_has_the_runtime_lock_as_it_is():
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "uv" in dev and "uv" not in runtime


def test_python_version_file_names_the_version_the_project_and_its_locks_start_from():
    import dev

    assert _read(".python-version").strip() == "3.11"
    assert 'requires-python = ">=3.11"' in _read("pyproject.toml")
    assert dev.LOCK_OPTIONS[dev.LOCK_OPTIONS.index("--python-version") + 1] == "3.11"
