# expect: DF003 4
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN <<-SCRIPT
	set -eu
	curl -fsSL https://example.org/install.sh | bash
	SCRIPT
USER 1000
