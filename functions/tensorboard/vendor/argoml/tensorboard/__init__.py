"""TensorBoard for a workflow's ``tensorboard`` artifacts: locating them, the instances, the fetcher.

:mod:`~argoml.tensorboard.artifacts` finds a Workflow's artifacts as Argo would resolve them;
:mod:`~argoml.tensorboard.instances` builds, creates, reads and tears down an instance, marked
with the labels of :mod:`~argoml.tensorboard.labels` (the contract gc collects by);
:mod:`~argoml.tensorboard.access` decides who may use it; :mod:`~argoml.tensorboard.fetch` is
the init container that downloads the logs.
"""
