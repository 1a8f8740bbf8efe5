"""Flask-WTF forms: CSRF comes with every one of them, and every text field refuses
characters no database can store (NUL, lone surrogates) with an error next to it."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from ..domain import budgets
from ..domain.validation import unstorable
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
