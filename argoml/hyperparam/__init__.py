"""Hyperparameter sweeps: a HyperparamWorkflow's search space, the Workflow it generates, reconciling.

:mod:`~argoml.hyperparam.search` reads a search space and expands it into trials, and
:mod:`~argoml.hyperparam.workflow` makes the Workflow that runs them (both pure: the validate
webhook and ``argoml expand`` run the same code); :mod:`~argoml.hyperparam.reconcile` turns
ApiServerSource events into the API calls that keep a sweep's Workflow and status converged.
"""
