"""Suite-wide fixtures: the Kubernetes ones (`k8s`, `namespace`) live in tests/k8s_fixtures.py."""

pytest_plugins = ["k8s_fixtures"]
