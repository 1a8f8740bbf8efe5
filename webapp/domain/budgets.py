"""Budgets and quotas: which caps apply, and whether one more task fits under them.

Four caps, each optional: spend per calendar month (UTC, in the configured currency),
seconds of video per month, tasks running at once, tasks created per day (UTC). An
admin sets the defaults; a user's override replaces a default (``None`` there means
unlimited); an API token may add caps of its own on top of its owner's. A task counts
its estimated cost and seconds while it runs, its actual cost once it ends (nothing
when it failed or was cancelled without the provider charging).
"""

from __future__ import annotations

from dataclasses import dataclass

SPEND = "monthly_spend"
SECONDS = "monthly_seconds"
CONCURRENT = "concurrent"
DAILY = "daily_tasks"
CAPS = (SPEND, SECONDS, CONCURRENT, DAILY)

LABELS = {
    SPEND: "Spend per month",
    SECONDS: "Video seconds per month",
    CONCURRENT: "Tasks running at once",
    DAILY: "Tasks per day",
}

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"}


@dataclass(frozen=True)
class Caps:
    monthly_spend: float | None = None
    monthly_seconds: int | None = None
    concurrent: int | None = None
    daily_tasks: int | None = None

    def get(self, name: str):
        return getattr(self, name)

    @property
    def any(self) -> bool:
        return any(self.get(n) is not None for n in CAPS)


def effective(defaults: dict | None, override: dict | None) -> Caps:
    """A default unless the override names the cap (its ``None`` is "unlimited")."""
    merged = {n: (defaults or {}).get(n) for n in CAPS}
    merged.update({n: v for n, v in (override or {}).items() if n in CAPS})
    return Caps(**merged)


@dataclass(frozen=True)
class Usage:
    spend: float = 0.0  # this month: reserved (running) + actual (ended)
    seconds: int = 0  # this month: running + completed
    running: int = 0
    today: int = 0  # created today

    def of(self, name: str):
        return {
            SPEND: self.spend,
            SECONDS: self.seconds,
            CONCURRENT: self.running,
            DAILY: self.today,
        }[name]


@dataclass(frozen=True)
class Over:
    cap: str
    message: str


def money(amount: float, currency: str = "USD") -> str:
    symbol = SYMBOLS.get(currency.upper())
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency.upper()}"


def check(
    caps: Caps, usage: Usage, cost: float, seconds: int, currency: str, whose: str = "your"
) -> Over | None:
    """The first cap one more task (costing ``cost``, ``seconds`` long) would overshoot."""
    cap = caps.monthly_spend
    if cap is not None and usage.spend + cost > cap + 1e-9:
        left = max(0.0, cap - usage.spend)
        return Over(
            SPEND,
            f"This would go over {whose} monthly budget: {money(usage.spend, currency)} of "
            f"{money(cap, currency)} used and this task costs about {money(cost, currency)} "
            f"({money(left, currency)} left).",
        )
    cap = caps.monthly_seconds
    if cap is not None and usage.seconds + seconds > cap:
        return Over(
            SECONDS,
            f"This would go over {whose} monthly video allowance: {usage.seconds} of {cap} "
            f"seconds used and this task is {seconds} s ({max(0, cap - usage.seconds)} s left).",
        )
    cap = caps.concurrent
    if cap is not None and usage.running + 1 > cap:
        return Over(
            CONCURRENT,
            f"{whose.capitalize()} limit is {cap} task{'s' if cap != 1 else ''} running at once "
            f"and {usage.running} {'are' if usage.running != 1 else 'is'} running; wait for one "
            "to finish.",
        )
    cap = caps.daily_tasks
    if cap is not None and usage.today + 1 > cap:
        return Over(
            DAILY,
            f"{whose.capitalize()} limit is {cap} task{'s' if cap != 1 else ''} per day and "
            f"{usage.today} {'were' if usage.today != 1 else 'was'} made today; the count "
            "starts again at midnight UTC.",
        )
    return None


def remaining(caps: Caps, usage: Usage) -> dict:
    """What is left under each cap that is set (for the pages)."""
    out = {}
    for name in CAPS:
        cap = caps.get(name)
        if cap is not None:
            out[name] = max(0, cap - usage.of(name))
    return out


class CapError(ValueError):
    pass


def parse_cap(name: str, text: str | None):
    """A cap from a form field: '' keeps the default (returns ``...``), 'unlimited' (or
    'none', '∞') is no cap, else a number ≥ 0 (whole for everything but spend)."""
    text = (text or "").strip().lower()
    if text == "":
        return ...
    if text in ("unlimited", "none", "∞", "no limit"):
        return None
    try:
        value = float(text.replace(",", "").lstrip("$€£¥₹"))
    except ValueError:
        raise CapError("Enter a number, or “unlimited”.") from None
    if not 0 <= value < 1e9 or value != value:
        raise CapError("Enter a number between 0 and 999,999,999.")
    if name == SPEND:
        return round(value, 2)
    if value != int(value):
        raise CapError("Enter a whole number.")
    return int(value)
