"""Flask-WTF forms: CSRF comes with every one of them, and every text field refuses
characters no database can store (NUL, lone surrogates) with an error next to it."""

import json
import uuid

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..domain import budgets
from ..domain.validation import comma_list, unstorable
from ..services.accounts import MAX_PASSWORD, MIN_PASSWORD


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Form(FlaskForm):
    """The base of every form."""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field in self:
            if isinstance(field.data, str) and unstorable(field.data):
                field.errors = [*field.errors, "This contains characters Reelay cannot store."]
                ok = False
        return ok

    def add_errors(self, errors: dict, aliases: dict | None = None) -> None:
        """Put a service's ``{name: message}`` errors next to their fields; what names
        no field (``aliases`` maps service names onto fields) goes to ``form_errors``."""
        for name, message in errors.items():
            field = self._fields.get((aliases or {}).get(name, name))
            if field is None or field.name == "csrf_token":
                self.form_errors.append(message)
            elif message not in field.errors:
                field.errors = [*field.errors, message]

    def field_errors(self) -> dict:
        """``{name: message}`` of the fields that already have errors (not the token)."""
        return {f.name: " ".join(f.errors) for f in self if f.errors and f.name != "csrf_token"}

    @property
    def csrf_failed(self) -> bool:
        return bool(self.meta.csrf and self.csrf_token.errors)


def _new_password(label: str):
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD,
                max=MAX_PASSWORD,
                message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            ),
        ],
    )


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)], filters=[_strip])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])
    remember = BooleanField("Keep me signed in")


class RegisterForm(Form):
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[
            DataRequired(),
            Email(check_deliverability=False, message="Enter a valid email address."),
            Length(max=254),
        ],
    )
    password = _new_password("Password")
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    invite = HiddenField()


class ForgotForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)], filters=[_strip])


class ResetForm(Form):
    new_password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")],
    )
    revoke_tokens = BooleanField("Also revoke all my API tokens", default=True)


class PasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords do not match.")],
    )
    revoke_tokens = BooleanField("Also revoke all my API tokens")


def _choices(*pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


TOKEN_EXPIRY = _choices(
    ("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")
)


class TokenForm(Form):
    name = StringField("Token name", validators=[DataRequired(), Length(max=80)])
    scope = SelectField(
        "Access",
        choices=_choices(("write", "Read and write"), ("read", "Read only")),
        default="write",
    )
    expires = SelectField("Expires", choices=TOKEN_EXPIRY, default="")


class SignupPolicyForm(Form):
    policy = SelectField(
        "Who may sign up",
        choices=_choices(
            ("open", "Open: anyone"),
            ("approval", "Approval: an admin approves each account"),
            ("invite", "Invite: only with an invite link"),
            ("closed", "Closed: nobody"),
        ),
    )


class InviteForm(Form):
    note = StringField("For (optional)", validators=[Length(max=120)], filters=[_strip])


class EmptyForm(Form):
    """For POST-only buttons (logout, revoke): just the CSRF token."""


def _cap_field(name: str, label: str):
    def check(form, field):
        try:
            budgets.parse_cap(name, field.data)
        except budgets.CapError as exc:
            raise ValidationError(str(exc)) from None

    return StringField(label, validators=[Length(max=20), check], filters=[_strip])


class CapsForm(Form):
    """Budget and quota caps (``domain/budgets.py``). What an empty field means is up to
    the caller: no cap (defaults, a token) or "the default" (a user's override)."""

    monthly_spend = _cap_field(budgets.SPEND, "Spend per month")
    monthly_seconds = _cap_field(budgets.SECONDS, "Video seconds per month")
    concurrent = _cap_field(budgets.CONCURRENT, "Tasks running at once")
    daily_tasks = _cap_field(budgets.DAILY, "Tasks per day")

    def values(self) -> dict:
        """cap -> number, None (unlimited) or ... (left empty)."""
        return {name: budgets.parse_cap(name, self[name].data) for name in budgets.CAPS}

    @staticmethod
    def shown(caps: dict) -> dict:
        """Form data for stored caps (``None`` is shown as "unlimited")."""
        return {
            name: ("unlimited" if caps[name] is None else f"{caps[name]:g}")
            for name in budgets.CAPS
            if name in caps
        }


# ---- new task and provider: the checks live in the services (shared with the API); these
# forms parse, keep what was typed and put every error next to its field in one round.


ASPECT_RATIOS = _choices(
    ("", "Model default"),
    ("16:9", "16:9 landscape"),
    ("9:16", "9:16 portrait"),
    ("1:1", "1:1 square"),
)


class NewTaskForm(Form):
    """Model, size and duration choices depend on the chosen model and are filled in by
    the page's script from the model option's data; the service checks them."""

    idempotency_key = HiddenField(default=lambda: uuid.uuid4().hex)
    prompt = TextAreaField("Prompt")
    model = StringField("Provider and model")
    aspect_ratio = SelectField("Aspect ratio", choices=ASPECT_RATIOS, validate_choice=False)
    size = StringField("Size")
    seconds = StringField("Duration")
    reference_image = FileField("Reference image")
    reference_from = StringField()
    watermark = BooleanField("Watermark")
    hd = BooleanField("HD")
    private = BooleanField("Private")
    n = StringField("Number of outputs", default="1")

    ALIASES = {"provider": "model"}

    def options(self, names, sent) -> dict:
        """The extra options the request carried (absent ones are left to the provider)."""
        return {name: self[name].data for name in names if name in sent}

    def provider_and_model(self) -> tuple[str, str]:
        provider_id, _, model = (self.model.data or "").partition(":")
        return provider_id, model


AUTH_STYLES = _choices(
    ("bearer", "Authorization: Bearer <key>"), ("raw", "Authorization: <key> (raw)")
)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _json_object(form, field):
    try:
        field.parsed = json.loads(field.data or "{}")
    except json.JSONDecodeError as exc:
        field.parsed = None
        raise ValidationError(f"Not valid JSON (line {exc.lineno}, column {exc.colno}).") from None


def _whole_seconds(form, field):
    try:
        field.parsed = [int(s) for s in comma_list(field.data)]
    except ValueError:
        field.parsed = []
        raise ValidationError("Durations are whole seconds, separated by commas.") from None


class ProviderForm(Form):
    """An upstream definition; ``services.catalog.save_provider`` checks the meaning."""

    name = StringField("Name", filters=[_strip])
    kind = SelectField("Kind", validate_choice=False)
    base_url = StringField("Base URL", filters=[_strip])
    path_prefix = StringField("Path prefix", filters=[_strip])
    auth_style = SelectField("Auth header", choices=AUTH_STYLES, validate_choice=False)
    key_env = StringField("Key environment variable", filters=[_strip])
    model_map = TextAreaField("Model map (JSON)", validators=[_json_object])
    sizes = StringField("Allowed sizes")
    seconds_options = StringField("Allowed durations (s)", validators=[_whole_seconds])
    extra_options = MultiCheckboxField("Extra options offered to users", validate_choice=False)
    price_per_second = StringField("Price per second of video, or per image ($)")
    max_rps = StringField("Max requests / second")
    priority = StringField("Priority (lower first)")
    weight = StringField("Weight")
    enabled = BooleanField("Enabled")

    def __init__(self, *args, kinds: dict, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = _choices(*((key, k.label) for key, k in kinds.items()))
        self.extra_options.choices = _choices(*((o, o) for o in options))

    @classmethod
    def of(cls, p, **kwargs) -> "ProviderForm":
        """The form filled in from a stored provider."""
        data = {
            "name": p.name,
            "kind": p.kind,
            "base_url": p.base_url,
            "path_prefix": p.path_prefix,
            "auth_style": p.auth_style,
            "key_env": p.key_env or "",
            "model_map": json.dumps(p.model_map or {}, indent=2),
            "sizes": ", ".join(p.sizes or []),
            "seconds_options": ", ".join(str(s) for s in p.seconds_options or []),
            "extra_options": p.extra_options or [],
            "price_per_second": f"{p.price_per_second:g}" if p.price_per_second is not None else "",
            "max_rps": f"{p.max_rps:g}" if p.max_rps is not None else "",
            "priority": str(p.priority),
            "weight": str(p.weight),
            "enabled": p.enabled,
        }
        return cls(data=data, **kwargs)

    def provider_data(self) -> dict:
        """What ``save_provider`` takes (model map and durations as parsed by their checks)."""
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "base_url": self.base_url.data,
            "path_prefix": self.path_prefix.data,
            "auth_style": self.auth_style.data,
            "key_env": self.key_env.data,
            "model_map": getattr(self.model_map, "parsed", None),
            "sizes": comma_list(self.sizes.data),
            "seconds_options": getattr(self.seconds_options, "parsed", None) or [],
            "extra_options": self.extra_options.data or [],
            "price_per_second": self.price_per_second.data,
            "max_rps": self.max_rps.data,
            "priority": self.priority.data,
            "weight": self.weight.data,
            "enabled": self.enabled.data,
        }
