"""`flask users ...` and `flask stats ...` (and, from the services, `providers` and
`poller`) commands."""

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from .services import accounts, recovery, signup, stats

stats_cli = AppGroup("stats", help="Keep the stats rollups.")

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create-admin")
@click.argument("email")
@click.password_option(help="Password (asked for when not given).")
def create_admin(email: str, password: str) -> None:
    """Create an admin account, or promote an existing one."""
    try:
        user = accounts.create_admin(email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.email} is an admin.")


@users_cli.command("reset-password")
@click.argument("email")
def reset_password(email: str) -> None:
    """Print a one-time password-reset link for EMAIL (it expires; REELAY_BASE_URL sets
    the address it starts with)."""
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"No account for {email}.")
    click.echo(recovery.issue(user))


@users_cli.command("approve")
@click.argument("email")
def approve(email: str) -> None:
    """Approve a sign-up that is waiting (sign-up policy "approval")."""
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"No account for {email}.")
    signup.approve(user.id)
    click.echo(f"{user.email} can log in now.")


def _day(_ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD.") from None


@stats_cli.command("rebuild")
@click.option("--from", "start", callback=_day, help="First day (YYYY-MM-DD); default: all.")
@click.option("--to", "end", callback=_day, help="Last day (YYYY-MM-DD); default: all.")
def rebuild(start: date | None, end: date | None) -> None:
    """Recount the stats rollups from the tasks (after a restore, or to check them).
    Task writes wait while it runs."""
    rows = stats.rebuild(start, end)
    span = f"{start or 'the start'} to {end or 'today'}"
    click.echo(f"Recounted the tasks created from {span}: {rows} rollup rows.")


def init_app(app: Flask) -> None:
    from .services.cli import poller_cli, providers_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(stats_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(poller_cli)
