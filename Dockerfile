# The app and its worker in one image: `docker build -t photo-trainer . && docker run -p 127.0.0.1:5000:5000 -v
# "$PWD/instance:/app/instance" photo-trainer`. Photos, the database, the queue and models live in the volume.
# The app has no login: publish the port on 127.0.0.1 (as above) or behind an authenticating proxy.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    WEBAPP_INSTANCE_PATH=/app/instance

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY webapp ./webapp
COPY templates ./templates
COPY static ./static

RUN useradd --create-home --uid 1000 app && mkdir -p /app/instance && chown app:app /app/instance
USER app
VOLUME ["/app/instance"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c \
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"
CMD ["python", "-m", "webapp", "--host", "0.0.0.0", "--port", "5000"]
