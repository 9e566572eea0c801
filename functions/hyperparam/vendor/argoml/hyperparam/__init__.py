"""Hyperparameter sweeps: a HyperparamWorkflow's search space, the Workflows it generates, reconciling.

:mod:`~argoml.hyperparam.search` reads a search space and expands it into trials,
:mod:`~argoml.hyperparam.tuning` reads the objective and the other tuning fields, and
:mod:`~argoml.hyperparam.workflow` makes the Workflow that runs the trials (all pure: the validate
webhook and ``argoml expand`` run the same code). :mod:`~argoml.hyperparam.results` reads trial
results from a Workflow's nodes, :mod:`~argoml.hyperparam.trials` keeps the history and the best
trial, :mod:`~argoml.hyperparam.adaptive` proposes trials with Optuna and
:mod:`~argoml.hyperparam.schedule` runs an adaptive sweep's asynchronous schedule.
:mod:`~argoml.hyperparam.reconcile` turns ApiServerSource events into the API calls that keep a
sweep's Workflows and status converged, :mod:`~argoml.hyperparam.resync` does it for every sweep on
a PingSource tick, and :mod:`~argoml.hyperparam.table` prints the trials (``argoml results``).
"""
