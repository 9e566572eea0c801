"""One demo step per capability; :mod:`argoml.dev.demo` runs them in order."""
