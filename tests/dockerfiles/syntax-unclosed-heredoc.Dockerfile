# expect: DF000 4
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN <<EOF
echo never closed
