#!/usr/bin/python3
"""The SMTP relay that report e-mails are handed to in tests/integration/test_report_delivery.py
and test_report_schedule.py, built on Debian's python3-aiosmtpd; run it with /usr/bin/python3.
Unlike rig/smtp_receiver.py it keeps every accepted message whole, and it refuses on request, so
that each SMTP stage's refusal can be tested. Usage: report_smtp_receiver.py CONFIG.json; the configuration names the listen
address and port, the greeting host name, the record file, optionally a certificate and key
(then STARTTLS is offered) and optionally a rules file.

Refusals are asked for by the local part of an address:
  MAIL FROM:<refuse-sender@...>   553 5.7.1 (the relay refuses the sender)
  RCPT TO:<reject@...>            550 5.1.1 (no such recipient)
  RCPT TO:<defer@...>             451 4.3.0 (try again later)
  RCPT TO:<reject-content@...>    accepted, then 554 5.6.0 after the message (content refused)
Anything else is accepted with "250 2.0.0 Ok: queued as N".

A rules file (config "rules") changes the answers for given recipients while the relay runs, for a
sender whose rua address cannot change (tests/integration/test_report_schedule.py). It is read at
every RCPT and DATA; missing, it changes nothing. JSON: {"<recipient>": {"RCPT": R, "DATA": R}},
recipient in lower case, R a reply line ("451 4.3.0 Try again later") or "stall": hold the reply
for as long as the rule stays (at DATA, after recording the message with "stalled": true), then
answer as the rules say by then.

Each accepted message is appended to the record file as one JSON line, flushed at once:
  {"from": ..., "to": [...], "tls": bool, "content": "<the DATA, dot-unstuffed, latin-1>"}"""
import asyncio
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP

MAX_MESSAGE_BYTES = 4 << 20


def local_part(address):
    return address.rsplit("@", 1)[0].lower()


STALL = "stall"
STALL_POLL = 0.05  # seconds between looks at the rules file while a reply is held


class Relay:
    """aiosmtpd handler: the refusals above, the rules file, and the record of what was accepted."""

    def __init__(self, record_path, rules_path):
        self.record = open(record_path, "a", encoding="utf-8")
        self.rules_path = rules_path
        self.accepted = 0

    def rule(self, recipient, stage):
        """The rules file's reply for this recipient at this stage, or None."""
        if not self.rules_path or not os.path.exists(self.rules_path):
            return None
        with open(self.rules_path, encoding="utf-8") as f:
            return json.load(f).get(recipient.lower(), {}).get(stage)

    async def held(self, recipient, stage):
        """The rule for this recipient and stage, once it is no longer STALL (the client waits;
        aiosmtpd cancels this when the connection goes)."""
        while (ruled := self.rule(recipient, stage)) == STALL:
            await asyncio.sleep(STALL_POLL)
        return ruled

    def write(self, envelope, session, **extra):
        self.record.write(json.dumps({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                      "tls": session.ssl is not None,
                                      "content": envelope.original_content.decode("latin-1"), **extra}) + "\n")
        self.record.flush()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if local_part(address) == "refuse-sender":
            return "553 5.7.1 Sender address rejected: not allowed to relay"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        ruled = await self.held(address, "RCPT")
        if ruled:
            return ruled
        if local_part(address) == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if local_part(address) == "defer":
            return "451 4.3.0 <%s>: Temporary lookup failure" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if any(local_part(rcpt) == "reject-content" for rcpt in envelope.rcpt_tos):
            return "554 5.6.0 Message content rejected"
        for rcpt in envelope.rcpt_tos:
            if self.rule(rcpt, "DATA") == STALL:
                self.write(envelope, session, stalled=True)
            ruled = await self.held(rcpt, "DATA")
            if ruled:
                return ruled
        if server.transport is None or server.transport.is_closing():
            return "421 4.4.2 The client is gone"  # left while the reply was held: nothing accepted
        self.accepted += 1
        self.write(envelope, session)
        return "250 2.0.0 Ok: queued as %d" % self.accepted


async def main(config):
    context = None
    if config.get("cert"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(config["cert"], config["key"])
    handler = Relay(config["record"], config.get("rules"))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=config["hostname"], tls_context=context, data_size_limit=MAX_MESSAGE_BYTES,
                     timeout=60),
        config["address"], config["port"])
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    print(f"listening on {config['address']}:{config['port']} starttls={context is not None}", flush=True)
    async with server:
        await stopped.wait()


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        asyncio.run(main(json.load(f)))
