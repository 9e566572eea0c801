"""``make bench``: speed and memory of argo-ml against baselines measured in the same run.

Each module here defines ``run() -> Table``; ``python -m bench [name ...]`` runs them
all (or the named ones) and prints each table. Targets are printed next to the
numbers; they are not asserted, so a loaded machine never fails a build.
"""
