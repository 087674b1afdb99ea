"""A stand-in streaming server for the stream tests, run as its own process (``python
tests/stream_receiver.py URL FORMAT``): listens with PyAV/FFmpeg on 127.0.0.1 (RTMP ``listen=1``,
or a UDP socket), decodes the video and prints one JSON line per decoded frame (``{"t": seconds,
"w": width, "h": height}``), after an ``{"open": …}`` line naming the streams.

A process of its own, not a thread: PyAV holds the GIL while FFmpeg connects and writes a header,
so a sender and a listener in one interpreter would wait on each other.
"""

from __future__ import annotations

import json
import sys

import av


def main() -> None:
    url, fmt = sys.argv[1], sys.argv[2]
    opts = {"analyzeduration": "500000", "probesize": "65536", "fflags": "nobuffer"}
    if url.startswith("rtmp"):
        opts["listen"] = "1"
    while True:  # like a server: a connection that fails before the stream starts (the sender's
        try:     # reachability check connects and hangs up) is not the end
            c = av.open(url, format=fmt, options=opts, timeout=(60, 20))
        except av.error.FFmpegError:
            continue
        break
    with c:
        print(json.dumps({"open": True, "streams": [s.type for s in c.streams]}), flush=True)
        for f in c.decode(video=0):
            print(json.dumps({"t": None if f.time is None else float(f.time), "w": f.width,
                              "h": f.height}), flush=True)


if __name__ == "__main__":
    main()
