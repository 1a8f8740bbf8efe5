"""`flask users ...` (and, from the services, `providers` and `poller`) commands."""

import click
from flask import Flask
from flask.cli import AppGroup

from .services import accounts

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


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    try:
        from .services.cli import poller_cli, providers_cli
    except ImportError:  # pragma: no cover - added by the provider work
        return
    app.cli.add_command(providers_cli)
    app.cli.add_command(poller_cli)
