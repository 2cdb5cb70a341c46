# Production image: the service against DATABASE_URL (the embedded PostgreSQL is for laptops and CI).
#   docker build -t snp-dispatch .
#   docker run --rm -e DATABASE_URL=... -e PATIENT_DATA_KEY=... snp-dispatch python -m app migrate
#   docker run -p 8000:8000 -e DATABASE_URL=... -e PATIENT_DATA_KEY=... snp-dispatch
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY app ./app
# Install the dependencies into the venv; the code itself runs from /app below.
RUN /venv/bin/pip install -c requirements.lock . && /venv/bin/pip uninstall -y snp-dispatch

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    APP_DATA_DIR=/tmp/snp-data
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin snp
COPY --from=build /venv /venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
USER snp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# Migrations are a separate step (`python -m app migrate`), never run by the serving command.
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
