from tests.hygiene import no_leaked_tasks  # noqa: F401 - autouse fixture
