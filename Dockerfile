# The gateway as a service: a wheel built in one stage, installed alone into a slim runtime that runs as an
# unprivileged user. `docker build -t assistant-gateway .`; compose.yaml runs a whole deployment.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2"
COPY pyproject.toml README.md ./
COPY cli ./cli
COPY gateway ./gateway
COPY graph ./graph
COPY jobs ./jobs
COPY loaders ./loaders
COPY migrations ./migrations
COPY models ./models
COPY resolvers ./resolvers
COPY services ./services
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/assistant-gateway --create-home gateway
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER gateway
WORKDIR /var/lib/assistant-gateway
ENV GATEWAY_ENV=production \
    GATEWAY_DATA_DIR=/var/lib/assistant-gateway \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
