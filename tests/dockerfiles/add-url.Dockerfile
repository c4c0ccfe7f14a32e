# expect: DF002 4, DF002 5
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ADD https://example.org/tool.tar.gz /opt/
ADD --chown=1000:1000 ["git@github.com:org/repo.git", "/src"]
ADD local.tar /opt/
USER 1000
