"""Node settings from the environment, and log level specs: bad values name the variable."""

import logging

import pytest

from autonomy.logs import current_levels, get_logger, set_log_levels
from autonomy.node.settings import NodeSettings


def test_cluster_environment_is_read():
    s = NodeSettings.from_environment(env={
        "CLUSTER": "c1", "ZONE": "shop", "POD": "runner-pod", "NODE": "shop-runner-pod-abc", "POD_IP": "10.0.0.7",
        "NAMESPACE": "apps", "KUBERNETES_SERVICE_HOST": "10.96.0.1",
    })
    assert (s.cluster, s.zone, s.pod, s.name, s.namespace) == ("c1", "shop", "runner-pod", "shop-runner-pod-abc",
                                                                 "apps")
    assert s.discovery == "kubernetes" and s.transport_port == 50051 and s.transport_host == "0.0.0.0"


def test_local_defaults_listen_on_loopback_with_random_name():
    s = NodeSettings.from_environment(env={})
    assert s.discovery == "local" and s.transport_host == "127.0.0.1"
    assert len(s.name) == 24 and int(s.name, 16) >= 0


@pytest.mark.parametrize(("env", "message"), [
    ({"AUTONOMY_TRANSPORT_PORT": "http"}, "AUTONOMY_TRANSPORT_PORT='http' is not a whole number"),
    ({"AUTONOMY_DISCOVERY": "dns"}, "AUTONOMY_DISCOVERY='dns': use kubernetes, local or none"),
    ({"AUTONOMY_MAILBOX_SIZE": "0"}, "AUTONOMY_MAILBOX_SIZE=0 must be >= 1"),
    ({"AUTONOMY_REQUEST_TIMEOUT": "-1"}, "AUTONOMY_REQUEST_TIMEOUT=-1.0 must be > 0"),
])
def test_bad_environment_names_the_variable(env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NodeSettings.from_environment(env=env)


def test_log_level_spec_sets_default_and_modules():
    set_log_levels("WARNING,agent=DEBUG,transport=error")
    assert get_logger("agent").level == logging.DEBUG
    assert get_logger("transport").level == logging.ERROR
    assert current_levels()["autonomy"] == "warning"
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        set_log_levels("agent=LOUD")
    set_log_levels("INFO,agent=INFO,transport=INFO")
