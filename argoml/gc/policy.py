"""The GC policy: what a PingSource's data may say, checked into a typed :class:`Policy`.

Every field has a default from an environment variable of the function (so one
deployment can set house rules) and the event's data overrides it field by field.
Everything is validated before the first API request: a wrong type, a negative age,
a malformed selector, a namespace or prefix that is not a valid name, or a field the
policy does not have (a typo such as ``maxAgeHour`` must not silently fall back to a
default) raises :class:`~argoml.errors.InvalidInput` naming the field, and nothing is
deleted. Numbers are bounded (no age beyond a century, no rate below one request per
100 s), so that no value overflows a time computation or a sleep.

Any pod in the cluster can reach the function and send a policy, so the operator's
environment also sets what no event can pass: a floor on ages (``GC_MIN_AGE_HOURS``)
and ceilings on the rate, deletions, page size and run time (``GC_LIMIT_*``, see
:data:`CEILINGS`). An event beyond one is refused; a field nobody set takes the
smaller of its default and the ceiling.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from argoml.errors import InvalidInput
from argoml.names import DNS_LABEL
from argoml.selectors import LabelSelector, parse_label_selector

ALL_NAMESPACES = "all"
_NAME_PREFIX = re.compile(r"^[a-z0-9][-a-z0-9.]{0,252}$")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
MAX_HOURS = 876_000.0  # a century: longer means "never", and anything larger overflows a timedelta
MIN_RATE, MAX_RATE = 0.01, 1000.0  # requests per second: at worst one request per 100 s
MAX_RUN_SECONDS = 3600.0
MIN_PAGE_BYTES, DEFAULT_PAGE_BYTES = 64 * 1024, 8 * 2**20

_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlevel, _short.maxlist, _short.maxdict = 60, 60, 2, 4, 4


def show(value: Any) -> str:
    """``value`` for an error message: short, whatever its size or depth."""
    return _short.repr(value)


@dataclass(frozen=True)
class Policy:
    """One GC policy. ``namespaces`` is ``None`` for every namespace."""

    namespaces: tuple[str, ...] | None = None
    max_age_hours: float = 168.0
    keep_failed_hours: float = 168.0
    selector: LabelSelector | None = None
    name_prefixes: tuple[str, ...] = ()
    invert: bool = False
    dry_run: bool = False
    max_deletions: int = 500
    requests_per_second: float = 20.0
    orphans: bool = True
    tensorboard_ttl_hours: float | None = 24.0
    page_size: int = 500
    max_run_seconds: float = 540.0  # under the Service's 600 s timeout, past which Knative retries the run
    max_page_bytes: int = DEFAULT_PAGE_BYTES  # the operator's (GC_MAX_PAGE_BYTES), never an event's: not in to_json
    tensorboard_mode: str = "knative"  # the operator's (TENSORBOARD_MODE, as the tensorboard function's)

    def applies_to(self, name: str, labels: Mapping[str, str] | None) -> bool:
        """Whether a workflow named ``name`` with ``labels`` is one this policy acts on."""
        matches = ((self.selector is None or self.selector.matches(labels))
                   and (not self.name_prefixes or name.startswith(self.name_prefixes)))
        return matches != self.invert

    def to_json(self) -> dict[str, Any]:
        """The policy in its PingSource-data form, every field resolved."""
        return {
            "namespaces": list(self.namespaces) if self.namespaces is not None else ALL_NAMESPACES,
            "maxAgeHours": self.max_age_hours, "keepFailedHours": self.keep_failed_hours,
            "selector": str(self.selector) if self.selector else "", "namePrefixes": list(self.name_prefixes),
            "invert": self.invert, "dryRun": self.dry_run, "maxDeletions": self.max_deletions,
            "requestsPerSecond": self.requests_per_second, "orphans": self.orphans,
            "tensorboardTTLHours": self.tensorboard_ttl_hours, "pageSize": self.page_size,
            "maxRunSeconds": self.max_run_seconds,
        }


# --- checks: (value, where) -> typed value; ``where`` names the field in messages ------------------------


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is not a JSON number that fits one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range (10**400)
        return None
    return number if math.isfinite(number) else None


def _hours(value: Any, where: str) -> float:
    hours = _number(value)
    if hours is None:
        raise InvalidInput(f"{where}: expected a number of hours, got {show(value)}")
    if hours < 0:
        raise InvalidInput(f"{where}: must not be negative, got {show(value)}")
    if hours > MAX_HOURS:
        raise InvalidInput(f"{where}: must be at most {MAX_HOURS:g} hours (a century), got {show(value)}")
    return hours


def _optional_hours(value: Any, where: str) -> float | None:
    return None if value is None else _hours(value, where)


def _count(minimum: int, maximum: int) -> Callable[[Any, str], int]:
    def check(value: Any, where: str) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{where}: expected a whole number, got {show(value)}")
        if not minimum <= value <= maximum:
            raise InvalidInput(f"{where}: must be between {minimum} and {maximum}, got {value}")
        return value

    return check


def _between(minimum: float, maximum: float, what: str) -> Callable[[Any, str], float]:
    def check(value: Any, where: str) -> float:
        number = _number(value)
        if number is None or not minimum <= number <= maximum:
            raise InvalidInput(f"{where}: expected {what} between {minimum:g} and {maximum:g}, got {show(value)}")
        return number

    return check


_rate = _between(MIN_RATE, MAX_RATE, "a number of requests per second")
_run_seconds = _between(1, MAX_RUN_SECONDS, "a number of seconds")


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: expected true or false, got {show(value)}")
    return value


def _selector(value: Any, where: str) -> LabelSelector | None:
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a label selector string, got {show(value)}")
    if not value.strip():
        return None
    try:
        return parse_label_selector(value)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None


def _names(pattern: re.Pattern[str], what: str) -> Callable[[Any, str], tuple[str, ...]]:
    def check(value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise InvalidInput(f"{where}: expected a list of {what}s, got {show(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise InvalidInput(f"{where}[{index}]: {show(item)} is not a valid {what}")
        return tuple(dict.fromkeys(value))

    return check


_namespace_list = _names(DNS_LABEL, "namespace name")


def _namespaces(value: Any, where: str) -> tuple[str, ...] | None:
    if value == ALL_NAMESPACES:
        return None
    namespaces = _namespace_list(value, where) if isinstance(value, list) else None
    if not namespaces:
        raise InvalidInput(f"{where}: expected a non-empty list of namespace names or {ALL_NAMESPACES!r}, "
                           f"got {show(value)}")
    return namespaces


# --- environment values: text -> the JSON value the event would carry --------------------------------------


def _env_number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # the check then names the variable and the bad value


def _env_optional_number(text: str) -> Any:
    return None if text.lower() in ("off", "none", "null") else _env_number(text)


def _env_flag(text: str) -> Any:
    lowered = text.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else text


def _env_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _env_namespaces(text: str) -> Any:
    return ALL_NAMESPACES if text.strip() == ALL_NAMESPACES else _env_list(text)


@dataclass(frozen=True)
class _Field:
    attribute: str
    env: str
    check: Callable[[Any, str], Any]
    from_env: Callable[[str], Any]


FIELDS: dict[str, _Field] = {
    "namespaces": _Field("namespaces", "GC_NAMESPACES", _namespaces, _env_namespaces),
    "maxAgeHours": _Field("max_age_hours", "GC_MAX_AGE_HOURS", _hours, _env_number),
    "keepFailedHours": _Field("keep_failed_hours", "GC_KEEP_FAILED_HOURS", _optional_hours, _env_optional_number),
    "selector": _Field("selector", "GC_SELECTOR", _selector, str),
    "namePrefixes": _Field("name_prefixes", "GC_NAME_PREFIXES", _names(_NAME_PREFIX, "name prefix"), _env_list),
    "invert": _Field("invert", "GC_INVERT", _flag, _env_flag),
    "dryRun": _Field("dry_run", "GC_DRY_RUN", _flag, _env_flag),
    "maxDeletions": _Field("max_deletions", "GC_MAX_DELETIONS", _count(1, 1_000_000), _env_number),
    "requestsPerSecond": _Field("requests_per_second", "GC_REQUESTS_PER_SECOND", _rate, _env_number),
    "orphans": _Field("orphans", "GC_ORPHANS", _flag, _env_flag),
    "tensorboardTTLHours": _Field("tensorboard_ttl_hours", "GC_TENSORBOARD_TTL_HOURS", _optional_hours,
                                  _env_optional_number),
    "pageSize": _Field("page_size", "GC_PAGE_SIZE", _count(1, 10_000), _env_number),
    "maxRunSeconds": _Field("max_run_seconds", "GC_MAX_RUN_SECONDS", _run_seconds, _env_number),
}


@dataclass(frozen=True)
class Ceiling:
    """The most any policy may ask of ``field``: ``env`` if the operator set it, else ``default``."""

    env: str
    default: float


CEILINGS: dict[str, Ceiling] = {
    "requestsPerSecond": Ceiling("GC_LIMIT_REQUESTS_PER_SECOND", 50),
    "maxDeletions": Ceiling("GC_LIMIT_DELETIONS", 5000),
    "pageSize": Ceiling("GC_LIMIT_PAGE_SIZE", 500),
    "maxRunSeconds": Ceiling("GC_LIMIT_RUN_SECONDS", 540),
}
PAGE_BYTES_ENV = "GC_MAX_PAGE_BYTES"
TENSORBOARD_MODE_ENV = "TENSORBOARD_MODE"
TENSORBOARD_MODES = ("knative", "deployment")  # argoml.tensorboard.instances.MODES (not imported: a cold start)


def parse_policy(data: Any, env: Mapping[str, str] | None = None) -> Policy:
    """The policy in ``data`` (a PingSource's data; ``None`` for none) over the defaults in ``env``.

    ``keepFailedHours`` left unset everywhere follows ``maxAgeHours``.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"data: expected a GC policy object, got {type(data).__name__} {show(data)}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a GC policy field (the fields are {', '.join(FIELDS)})")
    values: dict[str, Any] = {}
    for key, spec in FIELDS.items():
        if key in data:
            values[spec.attribute] = spec.check(data[key], key)
        elif (text := (env or {}).get(spec.env, "").strip()):
            values[spec.attribute] = spec.check(spec.from_env(text), spec.env)
    if values.get("keep_failed_hours") is None:
        values["keep_failed_hours"] = values.get("max_age_hours", Policy.max_age_hours)
    _apply_ceilings(values, env or {})
    values["max_page_bytes"] = _page_bytes(env or {})
    values["tensorboard_mode"] = _tensorboard_mode(env or {})
    policy = Policy(**values)
    _check_floor(policy, env or {})
    if policy.keep_failed_hours < policy.max_age_hours:
        raise InvalidInput(f"keepFailedHours: {policy.keep_failed_hours:g} is less than maxAgeHours "
                           f"({policy.max_age_hours:g}); failed workflows are kept at least as long as the others")
    if policy.invert and policy.selector is None and not policy.name_prefixes:
        raise InvalidInput("invert: needs a selector or namePrefixes to invert (it would match no workflow)")
    return policy


def _apply_ceilings(values: dict[str, Any], env: Mapping[str, str]) -> None:
    """Refuse a value above its ceiling; lower a default nobody set to it."""
    for key, ceiling in CEILINGS.items():
        spec = FIELDS[key]
        text = env.get(ceiling.env, "").strip()
        limit = spec.check(_env_number(text), ceiling.env) if text else ceiling.default
        if spec.attribute not in values:
            values[spec.attribute] = spec.check(min(getattr(Policy, spec.attribute), limit), key)
        elif values[spec.attribute] > limit:
            raise InvalidInput(f"{key}: {values[spec.attribute]:g} is above this deployment's ceiling "
                               f"({ceiling.env}={limit:g})")


def _tensorboard_mode(env: Mapping[str, str]) -> str:
    mode = env.get(TENSORBOARD_MODE_ENV, "").strip() or Policy.tensorboard_mode
    if mode not in TENSORBOARD_MODES:
        raise InvalidInput(f"{TENSORBOARD_MODE_ENV}: expected one of {', '.join(TENSORBOARD_MODES)}, got {show(mode)}")
    return mode


def _page_bytes(env: Mapping[str, str]) -> int:
    text = env.get(PAGE_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_PAGE_BYTES
    return _count(MIN_PAGE_BYTES, 2**31)(_env_number(text), PAGE_BYTES_ENV)


MIN_AGE_ENV = "GC_MIN_AGE_HOURS"


def _check_floor(policy: Policy, env: Mapping[str, str]) -> None:
    """Refuse ages below the deployment's floor: anyone who can reach the function sends policies.

    The function is cluster-local, but any pod in the cluster can POST to it; the floor, set
    by the operator in the environment and not by events, bounds what such a caller can do.
    """
    text = env.get(MIN_AGE_ENV, "").strip()
    if not text:
        return
    floor = _hours(_env_number(text), MIN_AGE_ENV)
    ages = {"maxAgeHours": policy.max_age_hours, "keepFailedHours": policy.keep_failed_hours,
            "tensorboardTTLHours": policy.tensorboard_ttl_hours}
    for key, hours in ages.items():
        if hours is not None and hours < floor:
            raise InvalidInput(f"{key}: {hours:g} hours is below this deployment's minimum age "
                               f"({MIN_AGE_ENV}={floor:g})")
