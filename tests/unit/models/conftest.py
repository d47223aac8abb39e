from tests.support.llm_fixtures import llm, llm_server  # noqa: F401 - fixtures
