"""The forms of the tenant admins' store pages. They show the rules next to
the fields; the services (stores/services.py) enforce the same rules for
every caller."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from stores.models import StaffMembership, Store
from stores.services import SETTINGS_FIELDS


class DescribedFields:
    """Each input points at its help text and its errors (aria-describedby)
    and says when it is invalid, so a screen reader reads the reason with
    the field. The ids are the ones templates/manage/_field.html renders."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._describe()

    def add_error(self, field, error):
        super().add_error(field, error)
        self._describe()

    def _describe(self):
        for name, field in self.fields.items():
            bound = self[name]
            described = []
            if field.help_text:
                described.append(f"{bound.auto_id}_help")
            if name in self._errors if self._errors is not None else False:
                described.append(f"{bound.auto_id}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


class AsciiIntegerField(forms.IntegerField):
    """An integer written in ASCII digits only: Python's int() also reads
    "٥" (Arabic-Indic five) and full-width digits, which no person means as
    a number of minutes here (PRODUCT.md: such input is refused, clearly)."""

    ASCII = re.compile(r"\s*[+-]?[0-9]+\s*")

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not self.ASCII.fullmatch(value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class StoreCreateForm(DescribedFields, forms.ModelForm):
    class Meta:
        model = Store
        fields = ("name",)
        labels = {"name": _("New store's name")}


class StoreSettingsForm(DescribedFields, forms.ModelForm):
    class Meta:
        model = Store
        fields = SETTINGS_FIELDS
        labels = {"name": _("Name")}
        field_classes = {
            name: AsciiIntegerField
            for name in ("sound_repeat_seconds", "sla_warn_minutes", "sla_late_minutes", "unattended_alert_seconds")
        }
        help_texts = {
            "sound_repeat_seconds": _("5 to 600. The sound repeats until someone accepts the order."),
            "sla_warn_minutes": _("An open order's age turns amber after this."),
            "sla_late_minutes": _("…and red after this; more than the amber minutes."),
            "unattended_alert_seconds": _(
                "0 to 3600. When nobody has the board open and an order arrives, tenant admins are told after this."
            ),
        }

    def clean(self):
        data = super().clean()
        warn, late = data.get("sla_warn_minutes"), data.get("sla_late_minutes")
        if warn is not None and late is not None and late <= warn:
            # Named here, on the field: the table's check constraint would
            # otherwise be reported for the form as a whole.
            self.add_error("sla_late_minutes", _("Must be more than the amber minutes."))
        return data


class StaffAddForm(DescribedFields, forms.Form):
    email = forms.CharField(label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label=_("Role"), choices=StaffMembership.Role.choices, initial=StaffMembership.Role.STAFF)


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=StaffMembership.Role.choices)
