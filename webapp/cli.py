"""`flask users ...` (and, from the services, `providers` and `poller`) commands."""

import click
from flask import Flask
from flask.cli import AppGroup

from .services import accounts, recovery, signup

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


def init_app(app: Flask) -> None:
    from .services.cli import poller_cli, providers_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(providers_cli)
    app.cli.add_command(poller_cli)
