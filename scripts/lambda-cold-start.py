#!/usr/bin/env python3
"""Cold start of a Lambda binary: the time from exec to its first
`GET /2018-06-01/runtime/invocation/next` against this tiny local Runtime API, and its resident
memory at that moment. Usage: lambda-cold-start.py BOOTSTRAP [RUNS]. The worker is started as a
development `PriceOrder` function (simulators in a temporary directory, fake credentials): what
the cold start does on Lambda, minus the network.
"""
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    first_next = None  # threading.Event set at the first GET .../invocation/next

    def do_GET(self):
        if self.path == "/2018-06-01/runtime/invocation/next":
            RuntimeApi.at = time.perf_counter()
            RuntimeApi.first_next.set()
            time.sleep(5)  # never answer: the function waits, as between invocations
        self.send_response(404)
        self.end_headers()

    def do_POST(self):  # init errors land here: report them
        length = int(self.headers.get("content-length", 0))
        print("the function reported:", self.path, self.rfile.read(length).decode(), file=sys.stderr)
        RuntimeApi.failed = True
        RuntimeApi.first_next.set()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

times, rss = [], []
for _ in range(runs):
    RuntimeApi.first_next = threading.Event()
    RuntimeApi.failed = False
    with tempfile.TemporaryDirectory() as simulators:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "orderflow-PriceOrder",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "TABLE_NAME": "orders",
            "DOCUMENTS_BUCKET": "documents",
            "TASK": "PriceOrder",
            "PAYMENTS": "simulator",
            "CARRIER": "simulator",
            "MAIL_SENDER": "orders@shop.test",
            "SIMULATOR_DIR": os.path.join(simulators, "ledgers"),
        }
        started = time.perf_counter()
        child = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not RuntimeApi.first_next.wait(10) or RuntimeApi.failed:
            child.kill()
            sys.exit(f"the function did not reach its first invocation: {child.stderr.read().decode()[-2000:]}")
        times.append((RuntimeApi.at - started) * 1000)
        with open(f"/proc/{child.pid}/status") as status:
            kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        rss.append(kib / 1024)
        child.kill()
        child.wait()

print(f"cold start over {runs} runs: median {statistics.median(times):.1f} ms "
      f"(min {min(times):.1f}, max {max(times):.1f}); RSS median {statistics.median(rss):.1f} MiB")
server.shutdown()
