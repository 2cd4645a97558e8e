# The sandbox in a container: `harness sandbox serve` on port 8765.
#
# Build it with `harness image build [--base-image IMG] [--tag T]`, which makes the wheelhouse
# and runs docker build for you. By hand, from the project root:
#     .venv/bin/pip wheel -w wheelhouse . pip && docker build -t connector-harness:0.1.0 .
# (add --build-arg BASE_IMAGE=harness-base:bookworm where no registry can be reached).
# The build reaches no package index: everything is installed from wheelhouse/, built on the host.
#
# Run: docker run -p 8765:8765 -e HARNESS_ADMIN_TOKEN=... connector-harness:0.1.0
#   HARNESS_CONTRACT     contract file inside the container (default: the bundled reference; mount yours)
#   HARNESS_SEED         seed for tenants created without one
#   HARNESS_ADMIN_TOKEN  bearer token for the control API (default: generated, printed in the log)
#   HARNESS_STORE        where tenants live: memory (default) or redis://host:port/db, shared by replicas
#   HARNESS_WORKERS      sandbox processes in the container, one per core (more than 1 needs HARNESS_STORE)
# A shared service (Redis + replicas + load balancer, or Kubernetes): see deploy/ and the README.
#   HARNESS_TLS_CERT, HARNESS_TLS_KEY  serve HTTPS with this certificate chain and key (mounted)
#   HARNESS_TLS_CA       the CA that issued it, for the health check to verify against
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# The venv's own pip when ensurepip works; otherwise (a Python without ensurepip) the pip wheel
# from the wheelhouse, run straight from the .whl file. Either way nothing leaves the machine.
COPY wheelhouse/ /tmp/wheelhouse/
RUN set -eu; \
    if python3 -m venv /opt/harness >/dev/null 2>&1 && /opt/harness/bin/python -m pip --version >/dev/null 2>&1; then \
        pip="/opt/harness/bin/python -m pip"; \
    else \
        rm -rf /opt/harness; python3 -m venv --without-pip /opt/harness; \
        pip="/opt/harness/bin/python $(ls /tmp/wheelhouse/pip-*.whl | head -n1)/pip"; \
    fi; \
    $pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir --disable-pip-version-check \
        connector-harness; \
    rm -rf /tmp/wheelhouse; \
    /opt/harness/bin/harness --help >/dev/null; \
    useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin harness \
        2>/dev/null || echo 'harness:x:10001:10001::/nonexistent:/usr/sbin/nologin' >> /etc/passwd

ENV PATH=/opt/harness/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001
WORKDIR /tmp
EXPOSE 8765
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, ssl, sys, urllib.request; ca = os.environ.get('HARNESS_TLS_CA'); url = ('https' if os.environ.get('HARNESS_TLS_CERT') else 'http') + '://127.0.0.1:8765/_sandbox/health'; ctx = ssl.create_default_context(cafile=ca) if url.startswith('https') else None; sys.exit(urllib.request.urlopen(url, timeout=2, context=ctx).status != 200)"]
ENTRYPOINT ["harness", "sandbox", "serve", "--host", "0.0.0.0", "--port", "8765"]
