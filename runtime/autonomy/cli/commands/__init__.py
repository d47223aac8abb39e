"""The command groups of the `autonomy` CLI: `cluster` and `zone`."""
