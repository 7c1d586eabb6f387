"""flask commands: provisioning agents for standalone login."""
import contextlib

import click
from flask import current_app
from flask.cli import with_appcontext

from .errors import AppError
from .services import accounts, identity, reason_codes

DEMO_AGENTS = (
    ("ana@example.com", "Ana Souza", "supervisor"),
    ("joao@example.com", "João Silva", "agent"),
    ("maria@example.com", "Maria Lima", "agent"),
)
DEMO_PASSWORD = "presence-demo"
# Demo agents' teams: an agent's console shows its team; the supervisor (no team) the whole org.
DEMO_TEAMS = {"joao@example.com": ("billing",), "maria@example.com": ("billing",)}
DEMO_CODES = (
    {"code": "lunch", "label": "Lunch", "statuses": ["away"], "max_minutes": 60},
    {"code": "break", "label": "Short break", "statuses": ["away"], "max_minutes": 15},
    {"code": "meeting", "label": "Meeting", "statuses": ["busy", "away"], "max_minutes": None},
    {"code": "training", "label": "Training", "statuses": ["busy"], "max_minutes": 120},
)


def init_app(app):
    """Register the commands on the app."""
    app.cli.add_command(create_agent)
    app.cli.add_command(demo_agents)


@click.command("create-agent")
@click.option("--email", required=True, help="Login email.")
@click.option("--name", required=True, help="Display name shown to colleagues.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters.")
@click.option("--org", default="default", show_default=True, help="Tenant.")
@click.option("--role", type=click.Choice(["agent", "supervisor"]), default="agent", show_default=True)
@click.option("--id", "agent_id", type=click.IntRange(min=1), help="Agent id (default: next free).")
@click.option("--team", "teams", multiple=True, help="A team of the agent (repeatable); its logins carry them.")
@with_appcontext
def create_agent(email, name, password, org, role, agent_id, teams):
    """Create an agent who can log in with POST /api/v1/auth/token."""
    try:
        new_id = accounts.create_agent(email, name, password, org=org, role=role, agent_id=agent_id, teams=teams)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created agent {new_id} ({email}, org {org}, role {role})")


@click.command("demo-agents")
@with_appcontext
def demo_agents():
    """Create the demo agents and reason codes of embedded mode (development only); print the logins."""
    if current_app.config["APP_ENV"] != "development":
        raise click.ClickException("demo agents exist only with APP_ENV=development")
    for email, name, role in DEMO_AGENTS:
        with contextlib.suppress(AppError):  # already there from an earlier run
            accounts.create_agent(email, name, DEMO_PASSWORD, role=role, teams=DEMO_TEAMS.get(email, ()))
        teams = ", team " + " ".join(DEMO_TEAMS[email]) if email in DEMO_TEAMS else ""
        click.echo(f"  demo login: {email} / {DEMO_PASSWORD} ({name}, {role}{teams})")
    if not reason_codes.codes_of("default"):
        reason_codes.replace(identity.Identity(0, "demo", "default", "supervisor"), list(DEMO_CODES))
        click.echo(f"  demo reason codes: {', '.join(code['code'] for code in DEMO_CODES)}")
