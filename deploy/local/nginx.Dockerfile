# Stand-in for nginx:1.27 (see build-images.sh): Debian 12's nginx 1.22 in the foreground, logs to
# the container's stdout/stderr like the official image; the compose file mounts its nginx.conf.
ARG BASE_IMAGE=harness-base:bookworm
FROM ${BASE_IMAGE}
COPY debs/ /tmp/debs/
RUN set -eu; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
    dpkg -i /tmp/debs/*.deb; rm -rf /tmp/debs /usr/sbin/policy-rc.d /etc/nginx/sites-enabled/default; \
    ln -sf /dev/stdout /var/log/nginx/access.log; ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 8765
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
