# expect: none
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY --chown=0:0 run.py /app/
ENV PYTHONPATH=/app/libs
USER 1000
