# One image for the API, the workers, the scheduler and the setup services (scale-out mode).
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY infopole ./infopole
COPY index ./index
COPY risk ./risk
COPY crawlers ./crawlers
COPY worker ./worker
COPY api ./api
COPY dashboards ./dashboards
RUN pip install --no-cache-dir '.[fast]' \
    && useradd --system --uid 10001 --home-dir /data infopole \
    && mkdir -p /data && chown infopole /data
ENV INFOPOLE_DATA_DIR=/data INFOPOLE_ENV=production
USER infopole
VOLUME /data
EXPOSE 8000
CMD ["infopole", "serve", "--host", "0.0.0.0", "--port", "8000"]
