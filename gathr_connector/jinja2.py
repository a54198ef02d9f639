"""The Jinja2 environment of the few fragments rendered with Jinja2 (settings.TEMPLATES): autoescaped, strict about
undefined names, with the one helper the connection form's fields need."""

from crispy_forms.templatetags.crispy_forms_filters import optgroups
from django.forms import BoundField, widgets
from django.utils.formats import localize

from jinja2 import Environment, StrictUndefined

# The widgets jinja2/connections/field.html knows how to lay out (crispy-bootstrap5's markup for each).
RADIOS = (widgets.RadioSelect,)
SELECTS = (widgets.Select,)
FILES = (widgets.ClearableFileInput, widgets.FileInput)
INPUTS = (widgets.Input, widgets.Textarea)


def environment(**options) -> Environment:
    options.pop("autoescape", None)  # always on, whatever the settings say
    options["undefined"] = StrictUndefined
    env = Environment(autoescape=True, **options)
    env.globals["crispy_widget"] = crispy_widget
    env.globals["optgroups"] = optgroups
    env.filters["unlocalize"] = lambda value: localize(value, use_l10n=False)
    env.tests["radio_field"] = lambda field: isinstance(field.field.widget, RADIOS)
    env.tests["select_field"] = lambda field: isinstance(field.field.widget, SELECTS)
    env.tests["file_field"] = lambda field: isinstance(field.field.widget, FILES)
    return env


def crispy_widget(field: BoundField, css_classes: str) -> str:
    """The widget as crispy-forms' `{% crispy_field field 'class' '...' %}` renders it: its own lowercase class
    name and `css_classes` added to its class attribute."""
    widget = field.field.widget
    if isinstance(
        widget, (widgets.CheckboxInput, widgets.CheckboxSelectMultiple, widgets.MultiWidget)
    ) or not isinstance(widget, RADIOS + SELECTS + FILES + INPUTS):
        raise TypeError(f"jinja2/connections/field.html does not lay out {type(widget).__name__} ({field.name})")
    classes = widget.attrs.get("class", "").split()
    for css_class in (type(widget).__name__.lower(), *css_classes.split()):
        if css_class not in classes:
            classes.append(css_class)
    widget.attrs["class"] = " ".join(classes)
    return str(field)
