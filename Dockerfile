FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
COPY lessons ./lessons
# Compile the fast path into the image (the non-root user could not write its cache).
RUN pip install --no-cache-dir -e . \
    && python -c "from app.nn import fast; fast.warm_up() or print('fast path unavailable:', fast.reason())" \
    && useradd --create-home --uid 10001 paramlab \
    && mkdir -p /app/data && chown paramlab /app/data

USER paramlab
ENV PARAMLAB_HOST=0.0.0.0 PARAMLAB_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["paramlab"]
