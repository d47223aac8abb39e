"""Suite-wide fixtures: the Kubernetes ones (`k8s`, `namespace`) live in tests/k8s_fixtures.py,
the operator's in tests/operator_fixtures.py, the Docker ones (`docker_engine`, `node_image`,
`wheelhouse`) in tests/docker_engine.py, the PostgreSQL ones (`postgres_server`, `postgres_url`) in
tests/postgres_fixtures.py."""

pytest_plugins = ["tests.k8s_fixtures", "tests.operator_fixtures", "tests.docker_engine", "tests.postgres_fixtures"]
