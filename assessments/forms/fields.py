"""Fields shared by several forms."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from wtforms import DateTimeLocalField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

_ZONES = available_timezones()


def validate_timezone(form: object, field: StringField) -> None:
    """Accept only IANA zone names (the browser fills this in; UTC without script)."""
    if field.data not in _ZONES and field.data != "UTC":
        raise ValidationError("Unknown time zone; use a name such as Europe/London or UTC.")


def timezone_field() -> StringField:
    """The zone in which the person typed a date and time."""
    return StringField("Time zone", default="UTC", validators=[DataRequired(), Length(max=64), validate_timezone])


def deadline_field(label: str) -> DateTimeLocalField:
    """A local date and time, read in the form's time zone."""
    return DateTimeLocalField(label, format="%Y-%m-%dT%H:%M", validators=[InputRequired()])


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A naive local time typed in a zone, as an aware UTC time."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return local.replace(tzinfo=zone).astimezone(UTC)


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
