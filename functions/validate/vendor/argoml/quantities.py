"""Kubernetes quantities (``500Mi``, ``1.5Gi``, ``100m``, ``1e3``), read once for everyone.

The syntax is ``resource.Quantity``'s: a signed decimal number, then an optional
binary suffix (``Ki`` ... ``Ei``), decimal suffix (``n u m k M G T P E``) or exponent.
The validate webhook checks resource fields with :func:`is_quantity`; the tensorboard
function turns the logs volume's ``sizeLimit`` into bytes with :func:`parse`.
"""

from __future__ import annotations

import re
from decimal import Decimal

# One way to match any text, so a failing match costs linear time (``\d+\.?\d*`` backtracked
# quadratically: 30 KB of digits took 20 s).
QUANTITY = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?")
# Nothing longer is a quantity in practice (Kubernetes' own are int64 or 18 decimal digits with a suffix);
# longer text is refused before any matching.
MAX_LENGTH = 64
_MULTIPLIERS = {"": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
                "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
                "P": Decimal("1e15"), "E": Decimal("1e18"),
                **{f"{prefix}i": Decimal(2) ** (10 * power) for power, prefix in enumerate("KMGTPE", start=1)}}


def is_quantity(text: str) -> bool:
    return len(text) <= MAX_LENGTH and QUANTITY.fullmatch(text) is not None


def parse(text: str) -> Decimal | None:
    """The value of a quantity (``500Mi`` -> 524288000), ``None`` if ``text`` is not one."""
    match = QUANTITY.fullmatch(text) if len(text) <= MAX_LENGTH else None
    if match is None:
        return None
    number, suffix = Decimal(match[1]), match[2] or ""
    if suffix[:1] in ("e", "E"):
        return number.scaleb(int(suffix[1:]))
    return number * _MULTIPLIERS[suffix]
