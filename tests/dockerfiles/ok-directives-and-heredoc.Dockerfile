# syntax=docker/dockerfile:1
# escape=`
# expect: none
ARG BASE_IMAGE
from ${BASE_IMAGE}
run echo one `
  # a comment inside a continued instruction is dropped
  && echo two
RUN <<EOF
set -eu
echo "curl is only mentioned here"
EOF
user 1000
