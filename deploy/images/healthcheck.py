#!/usr/bin/python3
"""Exit 0 when a URL on the Pod's loopback answers 2xx: the exec probe of the sidecars.

The agent and the skill server listen on 127.0.0.1 only (their ports are not in the Service),
so the kubelet's httpGet probes, which connect to the Pod IP, cannot reach them. Standard
library only: it runs with the system Python of every image.
usage: blogpod-healthcheck URL [TIMEOUT_SECONDS]
"""

import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: blogpod-healthcheck URL [TIMEOUT_SECONDS]", file=sys.stderr)
        return 2
    url, timeout = argv[1], float(argv[2]) if len(argv) == 3 else 2.0
    if not url.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:")):
        print(f"refusing a non-loopback URL: {url}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return 0 if 200 <= resp.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
