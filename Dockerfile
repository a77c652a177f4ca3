# The distillwatch worker image (used by docker-compose.yml).
FROM python:3.11.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY detectors ./detectors
COPY streams ./streams
COPY config ./config
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system distillwatch
USER distillwatch
ENV DISTILLWATCH_CONFIG=/app/config/detectors.yaml
EXPOSE 9464
ENTRYPOINT ["distillwatch"]
CMD ["worker"]
