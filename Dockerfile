# The lab's one image: workers, Flower, the latency target and the producer CLI (docker-compose.yml).
FROM python:3.12-slim

# The package index is the build host's (pass it as a build arg, e.g. `make compose-up` reads
# `pip config get global.index-url`); nothing here names one. Unset or empty = pip's default.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG LAB_UID=1000
# requirements/worker.lock: the worker, Flower, the target and the producer CLI, without matplotlib (charts),
# gevent or dev tools. A gevent worker: `docker-compose build --build-arg LAB_LOCK=worker-gevent`.
ARG LAB_LOCK=worker
# The uv that `make venv` uses (Makefile UV_VERSION).
ARG UV_VERSION=0.13.9

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LAB_STATE_DIR=/tmp/lab \
    LAB_RESULTS_DIR=/app/results \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

# Dependencies first, from the lock alone, so a source change rebuilds in seconds. The versions and hashes are
# the ones the tests ran with (worker*.lock is constrained by dev.lock). uv installs the hash-checked lock in
# seconds where pip takes tens; it comes from the same index through pip and leaves in the same layer. It reads
# the PIP_* build args (unsafe-best-match = pip's rule: the best version across all indexes).
COPY requirements/${LAB_LOCK}.lock /tmp/requirements.lock
RUN pip install -q "uv==${UV_VERSION}" \
 && UV_INDEX_URL="$PIP_INDEX_URL" UV_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" UV_INSECURE_HOST="$PIP_TRUSTED_HOST" \
    UV_INDEX_STRATEGY=unsafe-best-match UV_NO_CACHE=1 \
    uv pip install --system --require-hashes -r /tmp/requirements.lock \
 && pip uninstall -q -y uv && rm /tmp/requirements.lock \
 && useradd --uid "$LAB_UID" --user-group --create-home --shell /usr/sbin/nologin lab \
 && mkdir -p /app/results && chown lab:lab /app/results

# The project itself, not editable, byte-compiled (`lab` cannot write site-packages).
COPY pyproject.toml README.md /tmp/src/
COPY config /tmp/src/config
COPY worker /tmp/src/worker
COPY producer /tmp/src/producer
RUN pip install --no-deps /tmp/src && rm -rf /tmp/src

USER lab

# Exec form: Celery is PID 1 and gets SIGTERM itself (warm shutdown), no shell in between.
# docker-compose.yml gives each service its own command; this default is the CPU worker.
CMD ["celery", "-A", "worker.app", "worker", "-P", "prefork", "-c", "0", "-Q", "prefork", "-n", "cpu@%h", \
     "-E", "--without-mingle", "--without-gossip", "-l", "INFO"]
