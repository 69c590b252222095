#!/usr/bin/python3
"""An HTTPS endpoint that https: rua reports are POSTed to in tests/integration/test_report_delivery.py
and test_report_schedule.py (standard library only: http.server over ssl); run it with /usr/bin/python3.
Usage: report_https_receiver.py CONFIG.json; the configuration names the address, the ports, the
certificate and key, the record file, and optionally a rules file.

The path decides the answer:
  /status/NNN[/...]   answer HTTP NNN (e.g. /status/201/tlsrpt, /status/503)
  /hang               read the request, never answer
  anything else       200
unless the rules file (config "rules"; read at every request, missing = no rules) names the path:
{"<path>": NNN or "hang"}, so that a test changes the answer of a path the sender cannot change;
a rule's "hang" holds the answer while the rule stays, then answers as the rules say by then.
Every request is appended to the record file as one JSON line, flushed at once, before it is
answered: {"method", "path", "port", "headers": {lowercase name: value}, "body": base64,
"answer": NNN or "hang"}."""
import base64
import http.server
import json
import os
import ssl
import sys
import threading
import time

MAX_BODY = 4 << 20
HANG = "hang"
HOLD_POLL = 0.05  # seconds between looks at the rules file while a rule holds the answer


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        answer = self.server.answer(self.path)
        self.server.record({"method": "POST", "path": self.path, "port": self.server.server_address[1],
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": base64.b64encode(body).decode(), "answer": answer})
        if answer == HANG and self.server.ruled(self.path) is None:
            threading.Event().wait()  # /hang: until the process ends
        while answer == HANG:
            time.sleep(HOLD_POLL)
            answer = self.server.answer(self.path)
        self.send_response(answer)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, port, context, record_file, lock, rules_path):
        super().__init__((address, port), Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.record_file = record_file
        self.lock = lock
        self.rules_path = rules_path

    def ruled(self, path):
        """The rules file's answer for `path`, or None."""
        if not self.rules_path or not os.path.exists(self.rules_path):
            return None
        with open(self.rules_path, encoding="utf-8") as f:
            return json.load(f).get(path)

    def answer(self, path):
        """The status (or HANG) for a request to `path`: the rules file's, else the path's own."""
        ruled = self.ruled(path)
        if ruled is not None:
            return ruled
        if path == "/hang":
            return HANG
        parts = path.split("/")
        return int(parts[2]) if len(parts) > 2 and parts[1] == "status" else 200

    def record(self, entry):
        with self.lock:
            self.record_file.write(json.dumps(entry) + "\n")
            self.record_file.flush()


def main(config):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(config["cert"], config["key"])
    record_file = open(config["record"], "a", encoding="utf-8")
    lock = threading.Lock()
    servers = [Server(config["address"], port, context, record_file, lock, config.get("rules"))
               for port in config["ports"]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on {config['address']} ports {config['ports']}", flush=True)
    servers[0].serve_forever()  # SIGTERM's default action ends the process


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        main(json.load(f))
