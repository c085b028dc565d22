#!/usr/bin/env python3
"""SMTP sink for Quartier's test suite.

A real SMTP server (aiosmtpd) that accepts every message and writes it to a
directory, plus a tiny HTTP control endpoint to switch on failure modes.

Usage:
    python smtp_sink.py --host 127.0.0.1 --port N --maildir DIR [--control-port M]

Each accepted message is written atomically as DIR/<epoch_ns>-<uuid4>.eml:
the raw message bytes exactly as received (CRLF line endings, dot-unstuffed),
preceded by one added first header line
    X-Sink-Rcpt: a@x, b@y
listing the envelope recipients. The file first appears under a hidden name
(.<name>.tmp) and is then renamed, so a reader never sees a partial .eml.

Control API (HTTP/1.1 on 127.0.0.1:M, only when --control-port is given):
    POST /mode   body: ok | tempfail | permfail:<addr>[,<addr>...] | down
        ok        accept everything (and start listening again after `down`)
        tempfail  answer RCPT and DATA with 451 4.3.0
        permfail  answer RCPT for the listed address(es) with 550 5.1.1,
                  others are accepted (address match is case-insensitive)
        down      stop listening on the SMTP port and drop open SMTP
                  connections; any other mode starts listening again
        -> 200 "<mode>\n", or 400 on an unknown mode, 500 if the port
           cannot be bound again.
    GET /mode    -> 200 "<current mode>\n"
    GET /health  -> 200 "ok\n"

Prints `smtp_sink listening on HOST:PORT` (stdout, flushed) once both the SMTP
port and the control port accept connections. Exits cleanly on SIGTERM/SIGINT,
and also when the process given by --parent-pid is gone.
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import uuid

from aiosmtpd.smtp import SMTP

SINK_HOSTNAME = "smtp-sink.quartier.test"


class Sink:
    def __init__(self, host, port, maildir):
        self.host = host
        self.port = port
        self.maildir = maildir
        self.mode = "ok"
        self.permfail = set()
        self.server = None
        self.sessions = set()
        self.count = 0

    # ----- aiosmtpd handler hooks -------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "tempfail":
            return "451 4.3.0 Temporary failure (smtp_sink tempfail mode)"
        if address.lower() in self.permfail:
            return "550 5.1.1 <%s>: Recipient address rejected (smtp_sink permfail)" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "tempfail":
            return "451 4.3.0 Temporary failure (smtp_sink tempfail mode)"
        raw = envelope.original_content or b""
        header = ("X-Sink-Rcpt: %s\r\n" % ", ".join(envelope.rcpt_tos)).encode(
            "utf-8", "surrogateescape"
        )
        name = "%d-%s.eml" % (time.time_ns(), uuid.uuid4())
        tmp = os.path.join(self.maildir, ".%s.tmp" % name)
        try:
            with open(tmp, "wb") as f:
                f.write(header)
                f.write(raw)
                f.flush()
            os.replace(tmp, os.path.join(self.maildir, name))
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            print("smtp_sink: cannot store message: %s" % e, file=sys.stderr, flush=True)
            return "451 4.3.0 Cannot store message"
        self.count += 1
        return "250 OK stored as %s" % name

    # ----- SMTP listener ----------------------------------------------------

    def _make_protocol(self):
        loop = asyncio.get_running_loop()
        proto = SMTP(self, hostname=SINK_HOSTNAME, enable_SMTPUTF8=True, loop=loop)
        sink = self
        orig_made = proto.connection_made
        orig_lost = proto.connection_lost
        seen = []

        def connection_made(transport):
            seen.append(transport)
            sink.sessions.add(transport)
            orig_made(transport)

        def connection_lost(exc):
            for transport in seen:
                sink.sessions.discard(transport)
            orig_lost(exc)

        proto.connection_made = connection_made
        proto.connection_lost = connection_lost
        return proto

    async def start_smtp(self):
        if self.server is not None:
            return
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            self._make_protocol, host=self.host, port=self.port, reuse_address=True
        )
        # With --port 0 the OS picked one; keep it so `down` -> `ok` rebinds it.
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop_smtp(self):
        if self.server is None:
            return
        server, self.server = self.server, None
        server.close()
        for transport in list(self.sessions):
            transport.abort()
        self.sessions.clear()
        try:
            await asyncio.wait_for(server.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass

    # ----- control endpoint -------------------------------------------------

    async def set_mode(self, text):
        text = text.strip()
        low = text.lower()
        if low in ("ok", "tempfail", "down"):
            mode, permfail = low, set()
        elif low.startswith("permfail:"):
            permfail = {a.strip().strip("<>").lower() for a in text[len("permfail:"):].split(",")}
            permfail.discard("")
            if not permfail:
                return 400, "permfail needs an address: permfail:<address>\n"
            mode = "permfail:" + ",".join(sorted(permfail))
        else:
            return 400, "unknown mode %r (ok, tempfail, permfail:<address>, down)\n" % text
        if mode == "down":
            await self.stop_smtp()
        else:
            try:
                await self.start_smtp()
            except OSError as e:
                return 500, "cannot listen on %s:%d again: %s\n" % (self.host, self.port, e)
        self.mode, self.permfail = mode, permfail
        print("smtp_sink mode %s" % mode, flush=True)
        return 200, mode + "\n"

    async def handle_control(self, reader, writer):
        status, body = 400, "bad request\n"
        try:
            request_line = await asyncio.wait_for(reader.readline(), 10)
            parts = request_line.decode("latin-1").split()
            length = 0
            while True:
                line = await asyncio.wait_for(reader.readline(), 10)
                if line in (b"\r\n", b"\n", b""):
                    break
                key, _, value = line.decode("latin-1").partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value.strip())
            if length > 65536:
                raise ValueError("body too large")
            payload = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
            if len(parts) >= 2:
                method, path = parts[0].upper(), parts[1].split("?", 1)[0]
                if path == "/mode" and method == "POST":
                    status, body = await self.set_mode(payload.decode("utf-8", "replace"))
                elif path == "/mode" and method == "GET":
                    status, body = 200, self.mode + "\n"
                elif path == "/health" and method == "GET":
                    status, body = 200, "ok\n"
                elif path in ("/mode", "/health"):
                    status, body = 405, "method not allowed\n"
                else:
                    status, body = 404, "not found\n"
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                UnicodeError, ConnectionError) as e:
            status, body = 400, "bad request: %s\n" % e.__class__.__name__
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
                  405: "Method Not Allowed", 500: "Internal Server Error"}[status]
        data = body.encode()
        try:
            writer.write(("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %d\r\nConnection: close\r\n\r\n"
                          % (status, reason, len(data))).encode() + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def watch_parent(pid, stop):
    while not stop.is_set():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("smtp_sink: parent %d gone, exiting" % pid, file=sys.stderr, flush=True)
            stop.set()
            return
        except PermissionError:
            pass
        await asyncio.sleep(1)


async def main(args):
    os.makedirs(args.maildir, exist_ok=True)
    sink = Sink(args.host, args.port, os.path.abspath(args.maildir))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)

    await sink.start_smtp()
    control = None
    if args.control_port is not None:
        control = await asyncio.start_server(
            sink.handle_control, host=args.control_host, port=args.control_port,
            reuse_address=True)
        cport = control.sockets[0].getsockname()[1]
        print("smtp_sink control on http://%s:%d" % (args.control_host, cport), flush=True)
    print("smtp_sink listening on %s:%d" % (args.host, sink.port), flush=True)

    watcher = None
    if args.parent_pid:
        watcher = asyncio.create_task(watch_parent(args.parent_pid, stop))
    await stop.wait()

    if watcher:
        watcher.cancel()
    if control is not None:
        control.close()
    await sink.stop_smtp()
    print("smtp_sink stopped (%d messages stored)" % sink.count, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description="SMTP sink for tests (aiosmtpd).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="SMTP port (0: any free port)")
    p.add_argument("--maildir", required=True, help="where to write <epoch_ns>-<uuid4>.eml")
    p.add_argument("--control-port", type=int, default=None,
                   help="HTTP control port (POST /mode); off when not given")
    p.add_argument("--control-host", default="127.0.0.1")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--verbose", action="store_true", help="log SMTP sessions")
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="smtp_sink %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # aiosmtpd logs every dropped connection (e.g. readiness probes) at INFO/WARNING.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    try:
        asyncio.run(main(args))
    except OSError as e:
        print("smtp_sink: %s" % e, file=sys.stderr, flush=True)
        sys.exit(1)
