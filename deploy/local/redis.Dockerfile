# Stand-in for redis:7 (see build-images.sh): Debian 12's redis-server 7.0, run as the redis user
# in /data like the official image, protected mode off as the official build has it (the other
# containers of the stack reach it by name, with no password).
ARG BASE_IMAGE=harness-base:bookworm
FROM ${BASE_IMAGE}
COPY debs/ /tmp/debs/
COPY redis-entrypoint.sh /usr/local/bin/redis-entrypoint
RUN set -eu; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
    dpkg -i /tmp/debs/*.deb; rm -rf /tmp/debs /usr/sbin/policy-rc.d; \
    mkdir -p /data; chown redis:redis /data; chmod +x /usr/local/bin/redis-entrypoint
USER redis
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["redis-entrypoint"]
CMD ["redis-server"]
