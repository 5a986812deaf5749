import http.server, json, os
from standardwebhooks import Webhook
hook = Webhook(os.environ["WEBHOOK_SECRET"])
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try: print(json.dumps(hook.verify(body, dict(self.headers))), flush=True)
        except Exception: return self.send_error(400, "Bad webhook signature")
        self.send_response(204); self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(os.environ.get("PORT", 8088))), Receiver).serve_forever()
