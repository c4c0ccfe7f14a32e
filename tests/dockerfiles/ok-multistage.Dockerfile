# expect: none
# args: BASE_IMAGE RUNTIME_IMAGE
ARG BASE_IMAGE
ARG RUNTIME_IMAGE
FROM ${BASE_IMAGE} AS build
RUN make -C /src
FROM $RUNTIME_IMAGE
COPY --from=build /src/model /app/model
USER 0
RUN chmod 1777 /scratch
USER 1000
