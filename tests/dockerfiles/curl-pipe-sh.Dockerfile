# expect: DF003 4, DF003 5, DF003 7, DF003 9, DF003 10
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN curl -fsSL https://example.org/install.sh | sh
RUN apt-get update && wget -qO- https://x.org/i | sudo -E bash -
RUN curl -o /tmp/x https://x.org/x && sha256sum /tmp/x
RUN curl -fsSL https://x.org/i \
      | tee /tmp/log | /bin/bash
RUN bash -c "$(curl -fsSL https://x.org/i)"
RUN ["sh", "-c", "wget -O- https://x.org/i | sh"]
USER 1000
