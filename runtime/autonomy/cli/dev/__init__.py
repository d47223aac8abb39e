"""`autonomy zone dev`: run a zone on this machine with no Kubernetes (the embedded default).

`plan` turns a ZoneSpec into the processes a cluster would run (one per container per clone) with the
environment a node gets in a cluster; `supervisor` runs them in their own process groups with
prefixed logs and stops every one of them on Ctrl-C; `watch` restarts them when files change.
"""
