"""The `autonomy` command line: cluster and zone commands, and `zone dev`, the embedded default.

`main.app` is the typer application behind the console script. Commands live in `commands/`; what
they share (output formats, exit codes, user config, finding `autonomy.yaml`, Docker, Kubernetes) sits
in small modules beside them, and `dev/` runs a zone on this machine with no cluster.
"""
