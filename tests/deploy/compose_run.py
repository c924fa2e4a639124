#!/usr/bin/env python3
"""Runs the docker-compose deployment of deploy/compose as local processes, and uses it.

There is no Docker engine where the tests run, so this takes what `docker-compose config`
resolves from deploy/compose/docker-compose.yaml (each service's command, entrypoint,
environment and bind-mounted files) and starts the same programs on 127.0.0.1, with the
compose host names (s3, control-plane, data-plane-N) and ports rewritten to free loopback
ports, and paths inside the containers moved under a temp dir. The compose file's secrets
(${VAR:?message}, no default) get random values for this run, as an operator's .env would
give them:

  s3               the S3-compatible test server (tests/s3/server) with the compose's
                   credentials and bucket, in place of the RustFS image
  control-plane    the compose's shell command (copy omnigraph.yaml into its volume, exec
                   the server) with the compose's environment and mounted files
  data-plane-1..3  the image's entrypoint + the compose's command and environment
  nginx            Debian's nginx with deploy/compose/nginx.conf (upstreams and listen
                   port rewritten to the loopback ports)

Then it does what deploy/README.md tells an operator to do and checks what a user would:
POST /graphs on the control plane; every worker serves the graph; loads and reads
through nginx are spread over all three workers; the app actor is refused by the graph's
policy behind the load balancer; POST /internal/registry through nginx (a registry
document that would serve another graph's storage under an allow-all policy), with and
without the internal token and however the path is spelled, is answered 404 by nginx and
reaches no worker; kill -9 of one worker: nginx keeps serving through the
other two, and its acknowledged writes are all there; kill -9 of the control plane: reads
and writes through nginx go on; restarted with the same command and volume, the control
plane lists the graph again and every live worker reports its generation.

Usage: compose_run.py BIN_DIR S3_SERVER_BINARY NGINX_BINARY
Prints one line per check and `compose: N passed, N failed`; exits 1 on any failure.
Bounded: every wait has a deadline, and every process is killed on exit.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE_DIR = os.path.join(ROOT, "deploy", "compose")
WORKERS = ["data-plane-1", "data-plane-2", "data-plane-3"]
GRAPH = "social"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Failed(Exception):
    pass


def request(method, url, body=None, token=None, timeout=30, headers=None):
    """(status, parsed JSON body or text) of one HTTP request."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def eventually(check, seconds, what):
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        try:
            last = check()
            if last is True:
                return
        except OSError as e:  # not listening yet
            last = e
        time.sleep(0.1)
    raise Failed(f"{what}: not within {seconds} s (last: {last})")


class Deployment:
    def __init__(self, bin_dir, s3_bin, nginx_bin):
        self.bin_dir = bin_dir
        self.s3_bin = s3_bin
        self.nginx_bin = nginx_bin
        self.work = tempfile.mkdtemp(prefix="omnigraph-compose-")
        self.procs = {}
        self.ports = {name: free_port() for name in ["s3", "control-plane", "nginx"] + WORKERS}
        compose_file = os.path.join(COMPOSE_DIR, "docker-compose.yaml")
        with open(compose_file) as f:
            required = sorted(set(re.findall(r"\$\{(\w+):\?", f.read())))
        # Fresh secrets for the required variables; an empty --env-file, so that an
        # operator's deploy/compose/.env plays no part.
        self.secrets = {name: secrets.token_hex(32) for name in required}
        empty_env = os.path.join(self.work, "empty.env")
        open(empty_env, "w").close()
        clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **self.secrets}
        out = subprocess.run(
            ["docker-compose", "--env-file", empty_env, "-f", compose_file, "config"],
            env=clean, check=True, capture_output=True, text=True, timeout=60,
        ).stdout
        self.services = yaml.safe_load(out)["services"]
        missing = {"s3", "control-plane", "nginx", *WORKERS} - set(self.services)
        if missing:
            raise Failed(f"docker-compose.yaml has no service {sorted(missing)}")

    # -- rewriting container addresses and paths to local ones --------------------------

    def local(self, text, service):
        """`text` with compose host names and in-container paths made local."""
        text = text.replace("http://s3:9000", f"http://127.0.0.1:{self.ports['s3']}")
        text = text.replace("control-plane:8080", f"127.0.0.1:{self.ports['control-plane']}")
        for w in WORKERS:
            text = text.replace(f"{w}:8081", f"127.0.0.1:{self.ports[w]}")
        own = self.ports.get(service)
        text = re.sub(r"0\.0\.0\.0:\d+", f"127.0.0.1:{own}", text)
        return re.sub(r"(?<![\w.])/(var/lib|etc)/omnigraph", lambda m: self.root(service) + m.group(0), text)

    def root(self, service):
        return os.path.join(self.work, service)

    def env(self, service):
        env = {"PATH": f"{self.bin_dir}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/")}
        for k, v in (self.services[service].get("environment") or {}).items():
            env[k] = self.local(str(v), service)
        return env

    def mount(self, service):
        """Bind-mounted files copied, named volumes made, under the service's root."""
        for volume in self.services[service].get("volumes") or []:
            source, target = (volume.split(":") + [""])[:2]
            local = self.root(service) + target
            if os.path.isfile(source):
                os.makedirs(os.path.dirname(local), exist_ok=True)
                with open(source) as f:
                    text = f.read()
                with open(local, "w") as f:
                    f.write(self.local(text, service))
            else:
                os.makedirs(local, exist_ok=True)

    # -- processes ------------------------------------------------------------------------

    def spawn(self, name, argv, env):
        log = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.work, start_new_session=True,
        )

    def kill(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def stop_all(self):
        for name in list(self.procs):
            self.kill(name)

    def log(self, name):
        try:
            with open(os.path.join(self.work, f"{name}.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start_s3(self):
        env = self.services["s3"].get("environment") or {}
        bucket_job = " ".join(self.services.get("create-bucket", {}).get("command") or [])
        buckets = sorted(set(re.findall(r"create-bucket --bucket ([\w.-]+)", bucket_job))) or ["omnigraph"]
        data = os.path.join(self.work, "s3", "data")
        os.makedirs(data, exist_ok=True)
        argv = [self.s3_bin, data, "--host", "127.0.0.1", "--port", str(self.ports["s3"])]
        for b in buckets:
            argv += ["--bucket", b]
        argv += ["--access-key", env["RUSTFS_ACCESS_KEY"], "--secret-key", env["RUSTFS_SECRET_KEY"]]
        self.spawn("s3", argv, {"PATH": os.environ["PATH"]})
        eventually(lambda: socket.create_connection(("127.0.0.1", self.ports["s3"]), 1).close() is None,
                   20, "the S3 server listens")

    def start_control_plane(self):
        svc = self.services["control-plane"]
        self.mount("control-plane")
        entry = svc.get("entrypoint") or []
        command = [self.local(c, "control-plane") for c in svc.get("command") or []]
        self.spawn("control-plane", entry + command, self.env("control-plane"))
        url = f"http://127.0.0.1:{self.ports['control-plane']}"
        eventually(lambda: request("GET", f"{url}/healthz", timeout=2)[0] == 200, 30,
                   "the control plane answers /healthz")

    def start_worker(self, name):
        entry = dockerfile_entrypoint("data-plane.Dockerfile")
        entry = [os.path.join(self.bin_dir, os.path.basename(entry[0]))] + entry[1:]
        command = [self.local(c, name) for c in self.services[name].get("command") or []]
        self.spawn(name, entry + command, self.env(name))

    def start_nginx(self):
        prefix = os.path.join(self.work, "nginx")
        os.makedirs(prefix, exist_ok=True)
        os.chmod(self.work, 0o755)
        os.chmod(prefix, 0o777)  # nginx's workers run as an unprivileged user under root
        with open(os.path.join(COMPOSE_DIR, "nginx.conf")) as f:
            conf = f.read()
        conf = self.local(conf, "nginx")
        conf = re.sub(r"listen\s+8081;", f"listen 127.0.0.1:{self.ports['nginx']};", conf)
        conf = conf.replace("/tmp/", prefix + "/")
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.spawn("nginx", [self.nginx_bin, "-p", prefix + "/", "-c", path, "-g", "daemon off;"],
                   {"PATH": os.environ["PATH"]})

    def url(self, name):
        return f"http://127.0.0.1:{self.ports[name]}"


def dockerfile_entrypoint(name):
    with open(os.path.join(ROOT, "deploy", "docker", name)) as f:
        for line in f:
            if line.startswith("ENTRYPOINT"):
                return json.loads(line[len("ENTRYPOINT"):])
    raise Failed(f"{name} has no ENTRYPOINT")


def people(prefix, n):
    return "".join(json.dumps({"type": "Person", "data": {"name": f"{prefix}{i}", "age": i % 90}}) + "\n"
                   for i in range(n))


def names(body):
    return sorted(r["p.name"] for r in body["rows"])


READ_ALL = "query q() { match { $p: Person } return { $p.name } }"


def main():
    if len(sys.argv) != 4:
        print("usage: compose_run.py BIN_DIR S3_SERVER_BINARY NGINX_BINARY", file=sys.stderr)
        return 2
    bin_dir, s3_bin, nginx_bin = sys.argv[1:]
    d = Deployment(os.path.abspath(bin_dir), s3_bin, nginx_bin)
    env = d.env("control-plane")
    tokens = json.loads(env["OMNIGRAPH_SERVER_BEARER_TOKENS_JSON"])
    admin, app = tokens["admin"], tokens["app"]
    internal = env["OMNIGRAPH_INTERNAL_TOKEN"]
    for name, value in (("admin", admin), ("app", app), ("internal", internal)):
        assert value in d.secrets.values(), f"the {name} token is not one of the generated secrets"
    passed, failed = 0, 0

    def check(what, fn):
        nonlocal passed, failed
        started = time.time()
        try:
            detail = fn()
            passed += 1
            print(f"ok    {what} ({time.time() - started:.1f} s){': ' + detail if detail else ''}")
        except Exception as e:
            failed += 1
            print(f"FAIL  {what}: {type(e).__name__}: {e}")
            raise

    cp, lb = d.url("control-plane"), d.url("nginx")

    def start():
        d.start_s3()
        d.start_control_plane()
        for w in WORKERS:
            d.start_worker(w)
        for w in WORKERS:
            eventually(lambda w=w: request("GET", f"{d.url(w)}/readyz", timeout=2)[0] == 200, 30,
                       f"{w} is ready (has a registry generation)")
        d.start_nginx()
        eventually(lambda: request("GET", f"{lb}/healthz", timeout=2)[0] == 200, 20, "nginx answers")
        status, health = request("GET", f"{cp}/healthz", token=admin)  # details may need a token
        reported = sorted(w["worker_id"] for w in health["workers"])
        assert reported == WORKERS, f"control plane reports workers {reported}"
        return f"control plane reports {len(reported)} workers"

    def create_graph():
        policy = ("version: 1\nrules:\n  - id: admin-all\n"
                  "    allow: { actors: { actor: admin }, actions: [read, export, change] }\n")
        with open(os.path.join(ROOT, "tests", "fixtures", "social.pg")) as f:
            schema = f.read()
        body = {"graph_id": GRAPH, "uri": f"s3://omnigraph/graphs/{GRAPH}.omni",
                "schema": {"source": schema}, "policy": {"content": policy}}
        status, answer = request("POST", f"{cp}/graphs", body, admin)
        assert status == 201, f"POST /graphs: {status} {answer}"
        for w in WORKERS:
            eventually(lambda w=w: request("GET", f"{d.url(w)}/graphs/{GRAPH}/snapshot", token=admin,
                                           timeout=2)[0] == 200, 5, f"{w} serves {GRAPH}")
        status, listed = request("GET", f"{cp}/graphs", token=admin)
        assert status == 200 and GRAPH in json.dumps(listed), f"GET /graphs: {status} {listed}"
        return "served by every worker"

    def spread():
        status, body = request("POST", f"{lb}/graphs/{GRAPH}/ingest",
                               {"data": people("p", 500), "mode": "merge"}, admin)
        assert status == 200, f"ingest through nginx: {status} {body}"
        before = d.log("nginx").count("upstream=")
        latencies = []
        for _ in range(60):
            t = time.time()
            status, body = request("POST", f"{lb}/graphs/{GRAPH}/read", {"query_source": READ_ALL}, admin)
            latencies.append(time.time() - t)
            assert status == 200 and len(body["rows"]) == 500, f"read through nginx: {status}"
        upstreams = re.findall(r"upstream=(\S+)", d.log("nginx"))[before:]
        used = {u for u in upstreams if u != "-"}
        assert len(used) == 3, f"reads reached {sorted(used)}, not all three workers"
        latencies.sort()
        return f"60 reads of 500 rows on {len(used)} workers, median {latencies[30] * 1000:.1f} ms"

    def policy_behind_lb():
        status, body = request("POST", f"{lb}/graphs/{GRAPH}/change",
                               {"query_source": 'query q() { insert Person { name: "by-app" } }'}, app)
        assert status == 403 and body.get("code") == "forbidden", f"app's change: {status} {body}"
        status, body = request("POST", f"{lb}/graphs/{GRAPH}/read", {"query_source": READ_ALL})
        assert status == 401, f"no token: {status} {body}"
        return None

    def internal_behind_lb():
        # What an attacker would push: a graph id of its own on the social graph's storage,
        # under an allow-all policy.
        evil = {"generation": 2 ** 53, "graphs": [
            {"graph_id": "evil", "uri": f"s3://omnigraph/graphs/{GRAPH}.omni",
             "policy": "version: 1\nrules:\n  - id: all\n    allow: { actors: any, actions: [read, export, change] }\n"}]}
        generations = {w: request("GET", f"{d.url(w)}/healthz", token=admin)[1].get("registry_generation")
                       for w in WORKERS}
        # The detector works: a request that reaches a worker is in its log, by request id.
        rid = f"internal-direct-{secrets.token_hex(6)}"
        status, body = request("POST", f"{d.url('data-plane-1')}/internal/registry", evil,
                               headers={"x-request-id": rid})
        assert status == 401, f"POST /internal/registry on a worker without a token: {status} {body}"
        eventually(lambda: rid in d.log("data-plane-1"), 5, "the worker logs the request id it answered")
        sent = []
        paths = ["/internal/registry", "//internal/registry", "/%69nternal/registry",
                 "/graphs/../internal/registry", "/internal%2Fregistry"]
        for path in paths:
            for token in (None, internal, admin):
                rid = f"internal-via-nginx-{secrets.token_hex(6)}"
                status, body = request("POST", f"{lb}{path}", evil, token, headers={"x-request-id": rid})
                assert status == 404 and isinstance(body, dict) and body.get("code") == "not_found", \
                    f"POST {path} through nginx ({'no token' if token is None else 'a token'}): {status} {body}"
                sent.append((path, rid))
        time.sleep(0.2)  # the access log is written as the answer goes out
        nginx_log = d.log("nginx")
        for path, rid in sent:
            lines = [line for line in nginx_log.splitlines() if f"request_id={rid}" in line]
            assert lines and all("upstream=- " in line for line in lines), \
                f"POST {path}: nginx's access log has {lines}, not an answer of its own"
            for w in WORKERS:
                assert rid not in d.log(w), f"POST {path} through nginx reached {w}"
        status, body = request("GET", f"{lb}/graphs/evil/snapshot", token=admin)
        assert status == 404, f"GET /graphs/evil/snapshot through nginx: {status} {body}"
        after = {w: request("GET", f"{d.url(w)}/healthz", token=admin)[1].get("registry_generation")
                 for w in WORKERS}
        assert after == generations, f"worker generations moved: {generations} -> {after}"
        status, body = request("POST", f"{lb}/graphs/{GRAPH}/read", {"query_source": READ_ALL}, admin)
        assert status == 200 and len(body["rows"]) == 500, f"read through nginx afterwards: {status}"
        return f"{len(sent)} pushes answered 404 by nginx, none reached a worker"

    acked = []

    def writes(prefix, n):
        for i in range(n):
            name = f"{prefix}{i}"
            status, body = request("POST", f"{lb}/graphs/{GRAPH}/change",
                                   {"query_source": f'query q() {{ insert Person {{ name: "{name}" }} }}'},
                                   admin)
            assert status == 200, f"change {name} through nginx: {status} {body}"
            acked.append(name)

    def all_acked_everywhere(workers):
        for w in workers:
            status, body = request("POST", f"{d.url(w)}/graphs/{GRAPH}/read", {"query_source": READ_ALL}, admin)
            assert status == 200, f"read on {w}: {status} {body}"
            missing = set(acked) - set(names(body))
            assert not missing, f"{w} lacks acknowledged writes {sorted(missing)[:5]}"

    def kill_worker():
        writes("before-kill-", 10)
        d.kill("data-plane-2")
        writes("after-kill-", 20)
        for _ in range(30):
            status, _ = request("POST", f"{lb}/graphs/{GRAPH}/read", {"query_source": READ_ALL}, admin)
            assert status == 200, f"read through nginx with a dead worker: {status}"
        all_acked_everywhere(["data-plane-1", "data-plane-3"])
        return f"{len(acked)} acknowledged writes on both live workers"

    def kill_control_plane():
        d.kill("control-plane")
        writes("no-cp-", 10)
        status, _ = request("POST", f"{lb}/graphs/{GRAPH}/read", {"query_source": READ_ALL}, admin)
        assert status == 200, f"read without a control plane: {status}"
        d.start_control_plane()
        status, listed = request("GET", f"{cp}/graphs", token=admin)
        assert status == 200 and GRAPH in json.dumps(listed), f"after restart: {status} {listed}"

        def converged():
            status, health = request("GET", f"{cp}/healthz", token=admin, timeout=2)
            gen = health.get("registry_generation")
            acks = {w["worker_id"]: w.get("acknowledged_generation") for w in health.get("workers", [])}
            live = {w: acks.get(w) for w in ["data-plane-1", "data-plane-3"]}
            return True if all(g == gen for g in live.values()) else (gen, acks)

        eventually(converged, 30, "the live workers re-register and acknowledge the generation")
        all_acked_everywhere(["data-plane-1", "data-plane-3"])
        return f"{len(acked)} acknowledged writes kept"

    try:
        check("the compose services start as processes, workers ready", start)
        check("POST /graphs on the control plane", create_graph)
        check("loads and reads through nginx reach every worker", spread)
        check("the graph's policy and bearer auth behind nginx", policy_behind_lb)
        check("/internal/* through nginx: 404 from nginx, never a worker", internal_behind_lb)
        check("kill -9 of a worker: nginx serves through the others", kill_worker)
        check("kill -9 and restart of the control plane", kill_control_plane)
    except Exception:  # the failed check printed itself; show the logs
        for name in ["control-plane", "nginx"] + WORKERS:
            print(f"--- {name} log (tail)")
            print("\n".join(d.log(name).splitlines()[-30:]))
    finally:
        d.stop_all()
        shutil.rmtree(d.work, ignore_errors=True)
    print(f"compose: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
