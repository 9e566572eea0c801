"""The local runtime: what stands in for Kubernetes and Knative on a developer's machine.

``emulator`` is an in-memory Kubernetes API server, ``knative`` builds CloudEvents
exactly as Knative's sources do, ``bridge`` and ``ticker`` play ApiServerSource and
PingSource, ``runner`` starts the four functions, and ``demo`` walks through them.
Nothing here is imported by the functions at run time.
"""

FUNCTIONS = ("hyperparam", "validate", "tensorboard", "gc")
