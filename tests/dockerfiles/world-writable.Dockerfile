# expect: DF006 4, DF006 5, DF006 6
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN chmod 777 /app
RUN chmod -R 0666 /data && chmod 1777 /tmp/x
RUN chmod o+w /app/config
USER 1000
