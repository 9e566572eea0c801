"""Kubernetes name rules: the DNS label and subdomain forms the API server enforces, and labels.

Namespaces and most object names arrive from callers (URL paths, events, policies) and go
into API paths, labels and specs; every module checks them here, with ``fullmatch`` so that
no trailing newline slips through a ``$``.
"""

from __future__ import annotations

import re

# A label value, or the name part of a label key: 63 characters at most.
LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns_label(value: object) -> bool:
    """A namespace or a name that must be a DNS label (RFC 1123, at most 63 characters)."""
    return isinstance(value, str) and DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: object) -> bool:
    """An object name that must be a DNS subdomain (RFC 1123, at most 253 characters)."""
    return isinstance(value, str) and DNS_SUBDOMAIN.fullmatch(value) is not None


def is_label_value(value: object) -> bool:
    """A non-empty label value."""
    return isinstance(value, str) and re.fullmatch(LABEL_NAME, value) is not None
