"""`flask providers ...` and `flask poller ...`."""

from __future__ import annotations

import json
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..domain.validation import ValidationError, comma_list
from ..extensions import db
from ..models import Provider
from ..providers import base as pb
from . import catalog, poller, sim_seed

providers_cli = AppGroup("providers", help="Configure upstream providers.")
poller_cli = AppGroup("poller", help="Run the task poller.")


@providers_cli.command("add")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(sorted(catalog.KINDS)), required=True)
@click.option("--base-url", required=True)
@click.option("--path-prefix", default=None, help="e.g. /v1 or /sora/v1 (openai kind)")
@click.option("--auth-style", type=click.Choice(["bearer", "raw"]), default="bearer")
@click.option("--key-env", default=None, help="NAME of the environment variable holding the key")
@click.option(
    "--models", required=True, help='JSON model map, e.g. {"sora_video2": {"upstream": "sora-2"}}'
)
@click.option("--sizes", default="", help="comma separated, e.g. 1280x720,720x1280")
@click.option("--seconds", default="", help="comma separated, e.g. 4,8,12")
@click.option("--options", default="", help="extra options offered: watermark,hd,private,n")
@click.option("--price-per-second", type=float, default=0.0)
@click.option("--max-rps", type=float, default=10.0)
@click.option("--priority", type=int, default=100, help="lower is tried first")
@click.option("--weight", type=float, default=1.0, help="share among equal priority")
@click.option("--disabled", is_flag=True)
def add(
    name,
    kind,
    base_url,
    path_prefix,
    auth_style,
    key_env,
    models,
    sizes,
    seconds,
    options,
    price_per_second,
    max_rps,
    priority,
    weight,
    disabled,
):
    """Add a provider (the key itself stays in the environment)."""
    try:
        model_map = json.loads(models)
        secs = [int(s) for s in comma_list(seconds)]
    except (json.JSONDecodeError, ValueError) as exc:
        raise click.BadParameter(f"could not parse: {exc}") from None
    prefix = path_prefix if path_prefix is not None else catalog.KINDS[kind].default_prefix
    try:
        p = catalog.save_provider(
            {
                "name": name,
                "kind": kind,
                "base_url": base_url,
                "path_prefix": prefix,
                "auth_style": auth_style,
                "key_env": key_env,
                "model_map": model_map,
                "sizes": comma_list(sizes),
                "seconds_options": secs,
                "extra_options": comma_list(options),
                "price_per_second": price_per_second,
                "max_rps": max_rps,
                "priority": priority,
                "weight": weight,
                "enabled": not disabled,
            }
        )
    except ValidationError as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from None
    click.echo(f"added provider {p.id}: {p.name}")


@providers_cli.command("list")
def list_():
    """List providers (never their keys)."""
    for p in catalog.all_providers():
        state = "enabled" if p.enabled else "disabled"
        key = (
            f"key from ${p.key_env}" + ("" if catalog.api_key(p) else " (NOT SET)")
            if p.key_env
            else "no key"
        )
        click.echo(
            f"{p.id:>3}  {p.name:<28} {p.kind:<9} {p.base_url}{p.path_prefix or ''}  {state}  {key}"
        )
        click.echo(f"     models: {', '.join(p.model_map or {})}")


@providers_cli.command("test")
@click.argument("provider_id", type=int)
def test(provider_id):
    """Check reachability and auth without creating a job."""
    p = db.session.get(Provider, provider_id)
    if p is None:
        raise click.ClickException("no such provider")
    result = catalog.test_connection(p)
    click.echo(("OK: " if result.ok else "FAILED: ") + result.message)
    if not result.ok:
        raise SystemExit(1)


@providers_cli.command("sync-models")
@click.argument("provider_id", type=int)
def sync_models(provider_id):
    """Copy each mapped model's durations, sizes and image input from the provider's
    model list (OpenRouter) into its model map."""
    p = db.session.get(Provider, provider_id)
    if p is None:
        raise click.ClickException("no such provider")
    if not catalog.can_sync_models(p):
        raise click.ClickException(f"{p.kind} providers do not list their models")
    try:
        updated, unmapped = catalog.sync_models(p)
    except pb.ProviderError as exc:
        raise click.ClickException(f"could not read the models: {exc.message}") from None
    click.echo(f"updated: {', '.join(updated) or 'none'}")
    if unmapped:
        click.echo(f"offered but not mapped: {', '.join(unmapped)}")


@providers_cli.command("seed-simulator")
@click.option("--url", default=None, help="the simulator's base URL")
def seed_simulator(url):
    """Register the built-in simulator as the default provider (no-op when providers exist)."""
    rows = sim_seed.seed(url or current_app.config["SIMULATOR_URL"])
    click.echo(f"{len(rows)} provider(s) configured")


@poller_cli.command("run")
@click.option("--once", is_flag=True, help="sweep until nothing is due, then exit")
@with_appcontext
def run(once):
    """Run the poller in the foreground (for a dedicated process or container)."""
    app = current_app._get_current_object()
    if once:
        click.echo(f"processed {poller.run_until_idle(app)} task step(s)")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    interval = app.config["POLL_INTERVAL_SECONDS"]
    click.echo(f"poller {poller.WORKER_ID} running every {interval}s; Ctrl-C to stop")
    while not stop.is_set():
        try:
            while poller.run_once(app).full:
                pass
        except Exception:  # noqa: BLE001
            current_app.logger.exception("poller sweep failed")
        stop.wait(interval)
