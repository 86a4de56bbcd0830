#!/usr/bin/python3
"""The status portal in a real browser (headless Chromium through Selenium).

A ZooKeeper (example-zk), two example servers and a cluster client under
`slacker load`, each serving its portal on 127.0.0.1. Every page of the
client and of a server loads with no JavaScript error and no request to
anywhere but the process itself, shows what the test caused (members,
leaders with fencing tokens, live call rates, connections), follows a server
that stops without a reload, and never shows a secret the processes were
given. `--shots DIR` also writes screenshots of /cluster and /calls.

Usage: portal_test.py --apps BUILD/apps [--shots DIR]
       portal_test.py --apps BUILD/apps --measure ROUNDS
`--measure` reports (asserts nothing) what polling a server's portal costs
its calls: `slacker load` at full speed, in rounds alternating with and
without 10 requests a second to every page and every /api path; medians.
"""

import statistics
import threading

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

MANAGER_TOKEN = "mgr-5f1c0d2e9a"  # secrets the processes get and must not show
ZK_PASSWORD = "zkpw-8b3e7a41"
PORTAL_TOKEN = "portal-2d9f6c"
CLUSTER = "portal-test"
PAGE_BUDGET = 100 * 1024  # a page and what it loads, on a slow link

failures = []


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Programs started for the test, all stopped at the end."""

    def __init__(self, logs):
        self.logs = logs
        self.procs = {}

    def start(self, name, ready, args, env=None):
        log = open(os.path.join(self.logs, name + ".log"), "w")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))
        self.procs[name] = proc
        if ready is None:
            return proc
        until = time.time() + 30
        while time.time() < until:
            with open(log.name) as f:
                if re.search(ready, f.read(), re.M):
                    return proc
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        with open(log.name) as f:
            print(f.read())
        raise RuntimeError(name + " did not start")

    def stop(self, name, sig=signal.SIGTERM):
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for name in reversed(list(self.procs)):  # ZooKeeper last
            self.stop(name)


def get(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except urllib.error.URLError as e:  # not listening (yet)
        return 0, str(e).encode()


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--window-size=1400,1000"]:
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def visit(driver, base, page, token=None):
    """Opens a page and waits for its first update; checks errors and requests."""
    url = base + ("/" if page == "overview" else "/" + page)
    if token:
        url += "?token=" + token
    driver.get_log("performance")  # what came before is not this page's
    driver.get(url)
    WebDriverWait(driver, 20).until(
        lambda d: d.find_element(By.ID, "status").text.startswith("updated"))
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    check(not errors, f"{base}/{page}: no JavaScript error {errors}")
    outside = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            if not msg["params"]["request"]["url"].startswith(base + "/"):
                outside.append(msg["params"]["request"]["url"])
    check(not outside, f"{base}/{page}: no request leaves the process {outside}")
    return url


# Read in one script, between two redraws of the page (a redraw replaces the
# elements: read one by one, they can go stale in between).
def text_of(driver, element_id):
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
        element_id)


def rows_of(driver, element_id):
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]);"
        "if (!e) return [];"
        "return Array.from(e.querySelectorAll('tr'))"
        "  .filter(function (tr) { return tr.cells[0].tagName === 'TD'; })"
        "  .map(function (tr) {"
        "    return Array.from(tr.cells).map(function (td) { return td.innerText.trim(); });"
        "  });", element_id)


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def wait_for(driver, what, predicate, timeout=20):
    try:
        WebDriverWait(driver, timeout).until(lambda d: predicate())
        return check(True, what)
    except Exception:  # a timeout, or the page changing under the check
        return check(False, what)


def poll_portal(base, stop):
    """10 requests a second to each page and each /api path, until `stop`."""
    paths = ["/", "/cluster", "/calls", "/connections", "/config"]
    paths += ["/api/overview", "/api/cluster", "/api/calls", "/api/connections",
              "/api/config"]
    done = 0
    tick = time.time()
    while not stop.is_set():
        for path in paths:
            get(base + path)
            done += 1
        tick += 0.1
        stop.wait(max(0.0, tick - time.time()))
    return done


def measure(apps, rounds):
    logs = tempfile.mkdtemp(prefix="portal-measure-")
    procs = Processes(logs)
    try:
        zk = free_port()
        procs.start("zk", r"^ZooKeeper serving", [f"{apps}/example-zk", f"--port={zk}"])
        port, portal = free_port(), free_port()
        procs.start("server", r"^registered",
                    [f"{apps}/example-server", str(port), f"--zk=127.0.0.1:{zk}",
                     f"--cluster={CLUSTER}", f"--metrics=127.0.0.1:{portal}"])
        results = {"quiet": [], "polled": []}
        requests = []
        for r in range(rounds):
            for kind in (["quiet", "polled"] if r % 2 == 0 else ["polled", "quiet"]):
                stop = threading.Event()
                count = []
                poller = threading.Thread(
                    target=lambda: count.append(poll_portal(f"http://127.0.0.1:{portal}",
                                                            stop)))
                if kind == "polled":
                    poller.start()
                out = subprocess.run(
                    [f"{apps}/slacker", "load", f"--server=127.0.0.1:{port}",
                     "--duration=3", "--concurrency=16", "slacker.example.api/echo", '"x"'],
                    capture_output=True, text=True, timeout=60)
                stop.set()
                if kind == "polled":
                    poller.join()
                    requests.append(count[0] / 3)
                results[kind].append(json.loads(out.stdout)["calls_per_s"])
        quiet = statistics.median(results["quiet"])
        polled = statistics.median(results["polled"])
        print(json.dumps({"rounds": rounds, "quiet_calls_per_s": results["quiet"],
                          "polled_calls_per_s": results["polled"],
                          "portal_requests_per_s": statistics.median(requests),
                          "median_quiet": quiet, "median_polled": polled,
                          "cost": 1 - polled / quiet}, indent=1))
    finally:
        procs.stop_all()
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", required=True)
    parser.add_argument("--shots")
    parser.add_argument("--measure", type=int, default=0)
    args = parser.parse_args()
    apps = args.apps
    if args.measure:
        return measure(apps, args.measure)
    logs = tempfile.mkdtemp(prefix="portal-test-")
    procs = Processes(logs)
    driver = None
    try:
        zk = free_port()
        procs.start("zk", r"^ZooKeeper serving", [f"{apps}/example-zk", f"--port={zk}"])
        ports = [free_port(), free_port()]
        portals = [free_port(), free_port()]
        for i, (port, portal) in enumerate(zip(ports, portals)):
            procs.start(f"server{i}", r"^registered",
                        [f"{apps}/example-server", str(port), f"--zk=127.0.0.1:{zk}",
                         f"--cluster={CLUSTER}", f"--metrics=127.0.0.1:{portal}",
                         f"--manager-token={MANAGER_TOKEN}",
                         f"--zk-auth=portal:{ZK_PASSWORD}"])
        client_portal = free_port()
        procs.start("load", None,
                    [f"{apps}/slacker", "load", f"--zk=127.0.0.1:{zk}",
                     f"--cluster={CLUSTER}", "--duration=120", "--rate=200",
                     f"--metrics=127.0.0.1:{client_portal}", "--idempotent",
                     "slacker.example.api/echo", '"portal"'],
                    env={"SLACKER_PORTAL_TOKEN": PORTAL_TOKEN})
        client = f"http://127.0.0.1:{client_portal}"
        server = f"http://127.0.0.1:{portals[0]}"
        addrs = [f"127.0.0.1:{p}" for p in ports]

        # The token: asked by the client's pages and data, not by its metrics.
        until = time.time() + 20
        while get(client + "/health/live")[0] != 200 and time.time() < until:
            time.sleep(0.1)
        check(get(client + "/api/overview")[0] == 401, "no token: 401")
        check(get(client + "/")[0] == 401, "no token: the page is refused too")
        check(get(client + "/api/overview", PORTAL_TOKEN)[0] == 200, "Bearer token: 200")
        check(get(client + "/metrics")[0] == 200, "/metrics needs no token")

        # Size: a page and everything it loads.
        size = sum(len(get(server + path)[1])
                   for path in ["/", "/portal.css", "/portal.js", "/api/calls"])
        check(size < PAGE_BUDGET, f"a page with its script, style and data: {size} bytes")

        driver = browser()
        for page in ["overview", "cluster", "calls", "connections", "config"]:
            visit(driver, client, page, PORTAL_TOKEN)
            source = driver.page_source
            check(MANAGER_TOKEN not in source and ZK_PASSWORD not in source,
                  f"client {page}: no secret in the page")
        for page in ["overview", "cluster", "calls", "connections", "config"]:
            visit(driver, server, page)
            source = driver.page_source
            check(MANAGER_TOKEN not in source and ZK_PASSWORD not in source,
                  f"server {page}: no secret in the page")
        for path in ["overview", "cluster", "calls", "connections", "config"]:
            for base, token in [(client, PORTAL_TOKEN), (server, None)]:
                body = get(f"{base}/api/{path}", token)[1].decode()
                check(all(s not in body for s in [MANAGER_TOKEN, ZK_PASSWORD, PORTAL_TOKEN]),
                      f"{base}/api/{path}: no secret in the data")

        # The server's own pages: the function the load calls, its caller.
        visit(driver, server, "overview")
        check(f"member of cluster {CLUSTER}" in text_of(driver, "main")
              and ["registered", "yes"] in rows_of(driver, "main"),
              "server overview: registered in the cluster")
        visit(driver, server, "calls")
        wait_for(driver, "server calls: echo served at a rate above 0",
                 lambda: any(r[1] == "echo" and number(r[2]) > 0
                             for r in rows_of(driver, "served")))
        visit(driver, server, "connections")
        check(any(r[0] == "client of this server" for r in rows_of(driver, "links")),
              "server connections: the load's connection")
        visit(driver, server, "config")
        check(any(r[0] == "slacker.manager.token" and r[1] == "(set, not shown)"
                  for r in rows_of(driver, "settings")),
              "server config: the manager token is set, masked")

        # The client's view: members, leaders, rates, connections.
        visit(driver, client, "overview", PORTAL_TOKEN)
        check(f"cluster client of {CLUSTER}" in text_of(driver, "main"),
              "client overview: the cluster client")
        visit(driver, client, "calls", PORTAL_TOKEN)
        wait_for(driver, "client calls: both servers called at a rate above 0",
                 lambda: all(any(r[1] == a and number(r[3]) > 0
                                 for r in rows_of(driver, "called")) for a in addrs))
        if args.shots:
            time.sleep(0)  # the page is current: its first update is in
            driver.save_screenshot(os.path.join(args.shots, "portal-calls.png"))
        visit(driver, client, "connections", PORTAL_TOKEN)
        wait_for(driver, "client connections: one to each server at least",
                 lambda: all(any(r[1] == a for r in rows_of(driver, "links")) for a in addrs))
        visit(driver, client, "cluster", PORTAL_TOKEN)
        wait_for(driver, "client cluster: both servers routed",
                 lambda: all(any(r[0] == a and r[1] == "routed"
                                 for r in rows_of(driver, "servers")) for a in addrs))
        leaders = rows_of(driver, "leaders")
        check(any(r[0] == "slacker.example.api" and r[1] in addrs
                  and re.fullmatch(r"\d+:\d+", r[2]) for r in leaders),
              f"client cluster: the leader of slacker.example.api with its token {leaders}")
        if args.shots:
            driver.save_screenshot(os.path.join(args.shots, "portal-cluster.png"))

        # A server goes offline, then another stops: the open page follows,
        # without a reload.
        driver.execute_script("window.__same_page = true;")
        offline = subprocess.run(
            [f"{apps}/slacker", "offline", addrs[0], f"--zk=127.0.0.1:{zk}",
             f"--cluster={CLUSTER}", f"--manager-token={MANAGER_TOKEN}"],
            capture_output=True, text=True, timeout=60)
        check(offline.returncode == 0, f"slacker offline: {offline.stdout}{offline.stderr}")
        wait_for(driver, "client cluster: the server taken offline says so",
                 lambda: any(r[0] == addrs[0] and r[1] == "offline"
                             for r in rows_of(driver, "servers")), timeout=30)
        procs.stop("server1")
        wait_for(driver, "client cluster: the stopped server leaves the page",
                 lambda: all(r[0] != addrs[1] for r in rows_of(driver, "servers")),
                 timeout=30)
        check(driver.execute_script("return window.__same_page === true;"),
              "client cluster: updated in place, not reloaded")
    finally:
        if driver:
            driver.quit()
        procs.stop_all()
    if failures:
        print(f"{len(failures)} check(s) failed; logs in {logs}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
