"""A local webhook receiver: verifies each delivery's Standard Webhooks signature and prints the event.

    python -m bench.receiver --port 9000 --secret whsec_...

The README's webhook walk-through points a clinic's webhook at it; `make bench` uses it (quiet) to count events
delivered per second.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """An HTTP server on 127.0.0.1 that answers 204 to each signed POST (401 when the signature is wrong)."""

    def __init__(self, port: int = 0, secret: str | None = None, quiet: bool = False):
        self.secret, self.quiet = secret, quiet
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 204
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(data, dict(self.headers))
                    except WebhookVerificationError:
                        status = 401
                with receiver.lock:
                    receiver.count += 1
                if not receiver.quiet:
                    event = json.loads(data)
                    words = "signature verified" if status == 204 else "SIGNATURE WRONG"
                    print(f"{event['time']}  {event['type']}  {event['subject']}  ({words}, id {event['id']})")
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"

    def start(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", help="the whsec_… secret the Integrations page (or PUT /api/clinic/webhook) gave")
    args = parser.parse_args()
    receiver = Receiver(args.port, args.secret)
    print(f"Receiving on {receiver.url} (Ctrl+C stops)", flush=True)
    try:
        receiver.server.serve_forever()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
