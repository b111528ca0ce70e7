# The app and its worker in one image (README "Run it with Docker"):
#   docker build -t photo-trainer .
#   docker run -d --name photo-trainer -p 127.0.0.1:5000:5000 -v photo-trainer:/app/instance \
#     --stop-timeout 45 photo-trainer
# Commands: no arguments (web server + worker), `--no-worker ...` (web only), `worker` (a worker alone); any
# other command runs as is (`docker exec photo-trainer flask --app webapp user add NAME --role admin`).
# Everything the app keeps (database, queue, photos, features, models, secret key, downloaded Keras weights)
# lives in the volume /app/instance; the image holds none of it.
#
# --build-arg BAKE_WEIGHTS=vgg16 (or vgg16,mobilenet_v2) downloads the ImageNet weights while building, for
# machines without internet at run time; the build then needs storage.googleapis.com and fails, saying so,
# when it cannot reach it. Without it, the first Train downloads them once into the volume.
#
# Podman: build with `podman build --format docker` (the OCI format drops HEALTHCHECK).

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# Wheels only: nothing is compiled, so no compiler ever enters the image; pip goes afterwards (nothing at run
# time installs packages).
# TensorFlow's C headers (for compiling custom ops) and libclang (its code generators) are never used at run
# time: about 350 MB less.
RUN /opt/venv/bin/pip install --only-binary=:all: -r /tmp/requirements.txt \
    && /opt/venv/bin/pip uninstall -y -q libclang pip \
    && rm -rf /opt/venv/lib/python3.11/site-packages/tensorflow/include

ARG BAKE_WEIGHTS=""
RUN mkdir -p /opt/keras/models && for name in $(echo "$BAKE_WEIGHTS" | tr ',' ' '); do \
      case "$name" in \
        vgg16) maker=VGG16 ;; \
        mobilenet_v2) maker=MobileNetV2 ;; \
        *) echo "BAKE_WEIGHTS: unknown backbone '$name'; use vgg16 and/or mobilenet_v2" >&2; exit 1 ;; \
      esac; \
      KERAS_HOME=/opt/keras TF_CPP_MIN_LOG_LEVEL=2 /opt/venv/bin/python -c "import keras; \
keras.applications.$maker(weights='imagenet', include_top=False, input_shape=(224, 224, 3))" \
      || { printf '\n%s\n%s\n%s\n\n' \
           "BAKE_WEIGHTS: could not download the ImageNet weights of $name (the error is above)." \
           "Baking needs internet access to storage.googleapis.com while building. Build without" \
           "--build-arg BAKE_WEIGHTS (the first Train downloads them into the volume), or on a machine online." >&2; \
           exit 1; }; \
    done

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
# python3: the interpreter the venv was made with; tini: PID 1, passes the stop signal on and reaps zombies;
# ca-certificates: HTTPS for the ImageNet download. apt's cache goes (not every base image drops it itself).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 tini ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && useradd --uid 1000 --user-group --create-home --shell /usr/sbin/nologin app

ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEBAPP_INSTANCE_PATH=/app/instance \
    KERAS_HOME=/app/instance/keras \
    MPLCONFIGDIR=/tmp/matplotlib \
    TF_CPP_MIN_LOG_LEVEL=1 \
    PORT=5000

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/keras /opt/keras
# The entrypoint: baked weights join the Keras cache in the volume once (copied under a temporary name, then
# renamed: web and workers may start together on one volume); the web server listens on every interface of
# the container, on $PORT (the health check's port) unless --host/--port say otherwise; then the app replaces
# this shell. A command that is not the app's (`flask ...`, `sh`) runs as is.
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -e' \
      'mkdir -p "$KERAS_HOME/models"' \
      'for f in /opt/keras/models/*; do' \
      '  [ -f "$f" ] || continue' \
      '  dest="$KERAS_HOME/models/${f##*/}"' \
      '  [ -e "$dest" ] || { cp "$f" "$dest.tmp-$$" && mv -f "$dest.tmp-$$" "$dest"; }' \
      'done' \
      'case "$1" in worker) exec python -m webapp "$@" ;; ""|-*|serve) ;; *) exec "$@" ;; esac' \
      'host=--host=0.0.0.0 port=--port=$PORT' \
      'for a in "$@"; do case "$a" in --host|--host=*) host= ;; --port|--port=*) port= ;; esac; done' \
      'exec python -m webapp "$@" $host $port' > /usr/local/bin/webapp-entrypoint \
    && chmod 755 /usr/local/bin/webapp-entrypoint

WORKDIR /app
COPY webapp ./webapp
COPY templates ./templates
COPY static ./static
RUN mkdir -p /app/instance && chown app:app /app/instance

USER app
VOLUME ["/app/instance"]
EXPOSE 5000
# Healthy when the database answers (/healthz is 503 otherwise). Change the port with PORT, not --port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=4)"]
# SIGTERM: the web server stops; a training run stops at its next batch (within seconds: a run cannot resume
# from an epoch, so nothing is gained by finishing one) and is recorded as failed in plain words, its
# half-written model files removed; the active model stays. Give it the stop timeout above (45 s: the web
# process waits up to 30 s for its worker, then kills it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/webapp-entrypoint"]
CMD []
