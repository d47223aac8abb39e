# The operator image: `python -m autonomy_operator`, non-root, nothing but the project in a venv.
#
#   docker build -t autonomy/operator:0.1.0 .
#
# Offline builds (as in tests/images, where nothing can be pulled or downloaded): put the wheels of
# the project's dependencies in ./wheels (`pip wheel . -w wheels`) and pass
#   --build-arg BASE_IMAGE=<a local image with python3 >= 3.11 and its venv module>
#   --build-arg PIP_INSTALL_ARGS="--no-index --find-links /src/wheels"
ARG BASE_IMAGE=python:3.12-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG PIP_INSTALL_ARGS=""
WORKDIR /src
COPY . /src
RUN python3 -m venv /opt/autonomy \
 && /opt/autonomy/bin/pip install --no-cache-dir --disable-pip-version-check ${PIP_INSTALL_ARGS} /src \
 && find /opt/autonomy -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
COPY --from=build /opt/autonomy /opt/autonomy
ENV PATH=/opt/autonomy/bin:$PATH \
    VIRTUAL_ENV=/opt/autonomy \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    USER=autonomy-operator
# (USER: uid 10001 has no passwd entry, and kopf asks getpass.getuser() for its peering identity.)
# A numeric user, so that `runAsNonRoot` can be verified by the kubelet.
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "autonomy_operator"]
