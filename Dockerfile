# The distillwatch worker image (used by docker-compose.yml).

# The adapters' compiled fast path (native/): built as a wheel, with a pinned Rust toolchain
FROM python:3.11.11-slim-bookworm AS native
RUN apt-get update && apt-get install -y --no-install-recommends curl gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
       | sh -s -- -y --profile minimal --default-toolchain 1.95.0
COPY native /native
RUN PATH="/root/.cargo/bin:$PATH" pip wheel --no-cache-dir /native -w /wheels

FROM python:3.11.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY detectors ./detectors
COPY streams ./streams
COPY config ./config
COPY --from=native /wheels /wheels
RUN pip install --no-cache-dir -c constraints.txt . /wheels/*.whl && rm -rf /wheels \
    && useradd --system distillwatch
USER distillwatch
ENV DISTILLWATCH_CONFIG=/app/config/detectors.yaml
EXPOSE 9464
ENTRYPOINT ["distillwatch"]
CMD ["worker"]
