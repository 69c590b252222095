#!/usr/bin/python3
"""A receiving SMTP server (an MX host) for the Postfix end-to-end tests, built on Debian's
python3-aiosmtpd; run it with /usr/bin/python3.

Usage: smtp_receiver.py CONFIG.json. The configuration names the listen address and port, the
host name in the greeting, the record file, and optionally a certificate and key: with them the
server offers STARTTLS (whatever the certificate's names, issuer or dates), without them it does
not offer STARTTLS at all. Every message is accepted (250) and discarded.
Optional, for clients that are tested rather than used (test_mx_probe.py):
  "record_commands": true        also record every command (below)
  "replies": {"VERB": "reply"}   answer this command with this one line instead of acting on it
                                 ("" = never answer; the connection stays open)
  "tls_maximum_version": "TLSv1.1"  offer no later TLS version (with the ciphers that allows)

What it saw is appended to the record file as one JSON object per line, flushed at once:
  {"event": "connect", "peer": "ADDRESS"}                            a TCP connection accepted
  {"event": "starttls", "sni": NAME|null, "version": "TLSv1.3"}       a completed TLS handshake
  {"event": "message", "from": ..., "to": [...], "message_id": ..., "tls": bool,
   "sni": NAME|null, "version": ...|null}                             a message accepted
  {"event": "command", "verb": "EHLO", "arg": ..., "tls": bool}      with record_commands: a command
                                                                      received (before it is acted on)
A client that rejects the certificate still completes the handshake, so "starttls" without
"message" is what a refused delivery looks like."""
import asyncio
import email.parser
import functools
import json
import signal
import ssl
import sys
import weakref

from aiosmtpd.smtp import SMTP

MAX_MESSAGE_BYTES = 1 << 20  # test messages are tiny


class Recorder:
    """aiosmtpd handler: writes the events above to the record file."""

    def __init__(self, record_path, sni_names):
        self.record = open(record_path, "a", encoding="utf-8")
        self.sni_names = sni_names  # SSLObject -> server name the client sent

    def write(self, event):
        self.record.write(json.dumps(event) + "\n")
        self.record.flush()

    def tls_details(self, session):
        if session.ssl is None:
            return {"tls": False, "sni": None, "version": None}
        ssl_object = session.ssl["ssl_object"]
        return {"tls": True, "sni": self.sni_names.get(ssl_object), "version": ssl_object.version()}

    def handle_STARTTLS(self, server, session, envelope):
        details = self.tls_details(session)
        self.write({"event": "starttls", "sni": details["sni"], "version": details["version"]})
        return True

    async def handle_DATA(self, server, session, envelope):
        headers = email.parser.BytesHeaderParser().parsebytes(envelope.content)
        self.write({"event": "message", "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                    "message_id": headers.get("Message-ID"), **self.tls_details(session)})
        return "250 2.0.0 Ok: stored"


class RecordingSMTP(SMTP):
    """Also records each TCP connection, so that an MX host never contacted at all can be told
    from one whose certificate was refused; with record_commands or replies, each command."""

    def __init__(self, handler, record_commands=False, replies=None, **kwargs):
        super().__init__(handler, **kwargs)
        replies = replies or {}
        if record_commands or replies:
            # aiosmtpd (1.4) dispatches every command through this table of its smtp_VERB methods.
            self._smtp_methods = {verb: self._scripted(verb, method, record_commands, replies.get(verb))
                                  for verb, method in self._smtp_methods.items()}

    def _scripted(self, verb, method, record, reply):
        @functools.wraps(method)  # keeps the syntax HELP shows
        async def run(arg):
            if record:
                tls = self.transport.get_extra_info("ssl_object") is not None
                self.event_handler.write({"event": "command", "verb": verb, "arg": arg, "tls": tls})
            if reply is None:
                await method(arg)
            elif reply:
                await self.push(reply)
            else:
                await asyncio.Event().wait()  # never answers; ends when the connection does
        return run

    def connection_made(self, transport):
        if self.transport is None:  # not the same connection's switch to TLS (STARTTLS)
            self.event_handler.write({"event": "connect", "peer": transport.get_extra_info("peername")[0]})
        super().connection_made(transport)


def tls_context(config, sni_names):
    if not config.get("cert"):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config["cert"], config["key"])
    if config.get("tls_maximum_version"):
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion[config["tls_maximum_version"].replace(".", "_")]
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 allows TLS < 1.2 only at level 0

    def remember_sni(ssl_object, server_name, _context):
        sni_names[ssl_object] = server_name
    context.sni_callback = remember_sni
    return context


async def main(config):
    sni_names = weakref.WeakKeyDictionary()
    handler = Recorder(config["record"], sni_names)
    context = tls_context(config, sni_names)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RecordingSMTP(handler, config.get("record_commands", False), config.get("replies"),
                              hostname=config["hostname"], tls_context=context,
                              data_size_limit=MAX_MESSAGE_BYTES, timeout=60),
        config["address"], config["port"])
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    print(f"listening on {config['address']}:{config['port']} starttls={context is not None}", flush=True)
    async with server:
        await stopped.wait()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        asyncio.run(main(json.load(f)))
