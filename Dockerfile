# forumbot: one small, non-root image for the embedded default and the scaled set-up alike.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY scheduler ./scheduler
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    FORUMBOT_DATA_DIR=/data FORUMBOT_HTTP_HOST=0.0.0.0 FORUMBOT_HTTP_PORT=8080 \
    FORUMBOT_LOCALES_DIR=/app/locales
RUN useradd --create-home --uid 10001 forumbot && mkdir -p /data && chown forumbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY locales ./locales
COPY data ./data
USER forumbot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
CMD ["forumbot", "run"]
