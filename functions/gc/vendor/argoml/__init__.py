"""argo-ml: the tools Argo Workflows lacks for ML work, as Knative functions.

This package is the single home of all domain logic. Each function under
``functions/`` is a thin entry point over it and carries a generated copy
(``make vendor``) so that its directory is a self-contained build context.
"""

__version__ = "0.1.0"
