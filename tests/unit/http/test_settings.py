"""HTTP settings from the environment: units for sizes, and bad values that name the variable."""

import pytest

from autonomy.http.settings import HttpSettings


def test_defaults_and_units() -> None:
    assert HttpSettings.from_environment(env={}) == HttpSettings()
    settings = HttpSettings.from_environment(env={
        "AUTONOMY_MAX_REQUEST_BYTES": "1MiB", "AUTONOMY_MAX_AGENT_REQUESTS": "3",
        "AUTONOMY_HTTP_READ_TIMEOUT": "2.5", "AUTONOMY_MAX_HEADER_BYTES": "16 KiB",
    })
    assert (settings.max_request_bytes, settings.max_agent_requests) == (1024 * 1024, 3)
    assert (settings.read_timeout, settings.max_header_bytes) == (2.5, 16 * 1024)
    assert HttpSettings.from_environment(env={"AUTONOMY_MAX_REQUEST_BYTES": "100000"}).max_request_bytes == 100_000


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTONOMY_MAX_REQUEST_BYTES": "lots"}, "AUTONOMY_MAX_REQUEST_BYTES='lots' is not a size"),
    ({"AUTONOMY_MAX_REQUEST_BYTES": "0"}, "AUTONOMY_MAX_REQUEST_BYTES='0' must be at least 1 byte"),
    ({"AUTONOMY_MAX_AGENT_REQUESTS": "1e3"}, "AUTONOMY_MAX_AGENT_REQUESTS='1e3' is not a whole number"),
    ({"AUTONOMY_MAX_AGENT_REQUESTS": "0"}, "AUTONOMY_MAX_AGENT_REQUESTS=0 must be >= 1"),
    ({"AUTONOMY_HTTP_READ_TIMEOUT": "soon"}, "AUTONOMY_HTTP_READ_TIMEOUT='soon' is not a number of seconds"),
    ({"AUTONOMY_HTTP_READ_TIMEOUT": "-1"}, "AUTONOMY_HTTP_READ_TIMEOUT='-1' must be more than 0"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpSettings.from_environment(env=env)
