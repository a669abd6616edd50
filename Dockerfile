# The lab's one image: workers, Flower, the latency target and the producer CLI (docker-compose.yml).
FROM python:3.12-slim

# The package index is the build host's (pass it as a build arg, e.g. `make compose-up` reads
# `pip config get global.index-url`); nothing here names one. Unset or empty = pip's default.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG LAB_UID=1000

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LAB_STATE_DIR=/tmp/lab \
    LAB_RESULTS_DIR=/app/results \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

# Dependencies first, from pyproject.toml alone (stub packages), so a source change rebuilds in seconds.
COPY pyproject.toml README.md /tmp/src/
RUN cd /tmp/src && mkdir config worker producer \
 && touch config/__init__.py worker/__init__.py producer/__init__.py \
 && pip install . && pip uninstall -y concurrency-lab && rm -rf /tmp/src \
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
