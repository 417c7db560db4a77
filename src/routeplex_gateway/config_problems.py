"""Configuration mistakes as one line each: the file (with its line, for bad TOML) or the
environment variable, the key, and what was wrong — never the value, which may be a secret.

A newcomer's typo must not pass silently (an unknown key is refused with the closest known
name) nor end in a traceback (`ConfigError` is what the command line prints and exits on).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError


class ConfigError(ValueError):
    """A user's configuration mistake: one line naming the file or variable, and the key."""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode()
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib puts the position at the end of its message: "... (at line 3, column 8)",
        # or "(at end of document)", which is the last line's doing.
        found = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", str(exc))
        if found is not None:
            what, line, column = found.groups()
            raise ConfigError(f"{path}:{line}:{column}: invalid TOML: {what}") from None
        what = str(exc).removesuffix(" (at end of document)")
        last = max(len(text.splitlines()), 1)
        raise ConfigError(f"{path}:{last}: invalid TOML: {what} at the end of the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None


def unknown_key(value: Any, annotation: Any, path: str = "") -> str | None:
    """The first key in `value` that `annotation` has no field for, as a problem line, with
    the closest known name. Settings ignores unknown top-level keys (it must, for the
    environment's sake), so without this a misspelt setting would silently not apply."""
    origin, args = get_origin(annotation), get_args(annotation)
    children: list[tuple[Any, Any, str]]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return None  # a wrong type, which validation reports
        fields = field_names(annotation)
        for key in value:
            if key.lower() not in fields:
                close = difflib.get_close_matches(key.lower(), set(fields.values()), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                return f"{join(path, key)}: unknown setting{hint}"
        children = [
            (item, annotation.model_fields[fields[key.lower()]].annotation, join(path, key))
            for key, item in value.items()
        ]
    elif origin is list and isinstance(value, list):
        children = [(item, args[0], join(path, index)) for index, item in enumerate(value)]
    elif origin is dict and isinstance(value, dict):
        children = [(item, args[1], join(path, key)) for key, item in value.items()]
    elif origin in (Union, UnionType):
        children = [(value, arg, path) for arg in args]
    else:
        return None
    return next((p for child in children if (p := unknown_key(*child)) is not None), None)


def explain(
    exc: ValidationError | SettingsError, settings: type[BaseSettings], file: Path | None
) -> str:
    """The first error of building `settings` from `file` and the environment, as one line.
    An error in a setting the environment sets is the variable's: the environment wins."""
    if isinstance(exc, SettingsError):
        # Raised for a variable holding a list or table that is not JSON.
        named = re.search(r'field "([^"]+)"', str(exc))
        where = variable(settings, named.group(1)) if named else "a ROUTEPLEX_* variable"
        return f"{where}: expected JSON"
    errors = exc.errors()
    error = errors[0]
    loc = list(error["loc"])
    field = field_names(settings).get(str(loc[0]).lower(), str(loc[0])) if loc else ""
    where = field
    for part in loc[1:]:
        where = join(where, part)
    if field and in_environment(settings, field):
        source = variable(settings, field)
        where = where.removeprefix(field).removeprefix(".")
    else:
        source = str(file) if file is not None else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ": ".join(part for part in (source, where, expected(error)) if part) + more


def origin(
    settings: type[BaseSettings],
    field: str,
    file: Path | None,
    file_values: dict[str, Any],
    flags: dict[str, Any],
) -> str:
    """Where a setting's value came from, as a problem line names it: the flag, the variable
    (also when it is unset, as that is how to change a default), or the file's key."""
    if field in flags:
        return f"--{field.replace('_', '-')}"
    if file is not None and field in file_values and not in_environment(settings, field):
        return f"{file}: {field}"
    return variable(settings, field)


def in_environment(settings: type[BaseSettings], field: str) -> bool:
    return variable(settings, field) in {name.upper() for name in os.environ}


def explain_flag(exc: ValidationError) -> str:
    """A command-line flag's bad value (flags arrive as overrides named like the setting)."""
    error = exc.errors()[0]
    return f"--{str(error['loc'][0]).replace('_', '-')}: {expected(error)}"


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "decimal_parsing": "expected a decimal number",
    "decimal_type": "expected a decimal number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "path_type": "expected a path",
    "finite_number": "expected a finite number",
    "missing": "missing (required)",
    "extra_forbidden": "unknown setting",
}


def expected(error: ErrorDetails) -> str:
    """What the setting wants, in the file's words (pydantic's own message as a fallback,
    which never quotes the input)."""
    ctx = error.get("ctx", {})
    kind = error["type"]
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}"
    if kind == "greater_than_equal":
        return f"expected at least {number(ctx.get('ge'))}"
    if kind == "less_than_equal":
        return f"expected at most {number(ctx.get('le'))}"
    if kind == "greater_than":
        return f"expected more than {number(ctx.get('gt'))}"
    if kind == "string_too_short":
        return "expected a non-empty string"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))  # the validator's own words
    return error["msg"][:1].lower() + error["msg"][1:]


def number(bound: Any) -> Any:
    """A bound as the user would write it: 0, not 0.0."""
    return int(bound) if isinstance(bound, float) and bound.is_integer() else bound


def field_names(model: type[BaseModel]) -> dict[str, str]:
    """Field name by every lower-cased name the file may use for it (aliases included)."""
    names = {name: name for name in model.model_fields}
    for name, field in model.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            names.update(
                (alias.lower(), name)
                for alias in field.validation_alias.choices
                if isinstance(alias, str)
            )
    return names


def variable(settings: type[BaseSettings], field: str) -> str:
    """The environment variable a setting is read from."""
    info = settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        return str(info.validation_alias.choices[0]).upper()
    prefix = str(settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def join(path: str, key: str | int) -> str:
    """A dotted TOML path; keys that are not bare keys are quoted, as TOML would."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    part = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
    return f"{path}.{part}" if path else part
