"""Consistency checks of the deployment files, run by tests/deploy/validate.sh after the
schema validators: what a schema cannot see (the right binary in each image, workers that
name their own service, nginx's upstream matching the workers, probes on the documented
routes, references between Kubernetes objects, omnigraph.yaml keys).

    python checks.py dockerfile FILE BINARY PORT
    python checks.py compose COMPOSE_FILE
    python checks.py omnigraph-config FILE
    python checks.py policy FILE
    python checks.py nginx FILE
    python checks.py k8s DIR
    python checks.py extract-configmap FILE NAME OUT_DIR
    python checks.py readme README ROOT
    python checks.py secrets DEPLOY_DIR

Each prints nothing and exits 0 when the file is consistent; otherwise it prints one line
per problem and exits 1.
"""

import json
import os
import re
import shlex
import subprocess
import sys

import yaml
from dockerfile_parse import DockerfileParser

PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---------------------------------------------------------------- Dockerfiles

def check_dockerfile(path, binary, port):
    parser = DockerfileParser(path=path)
    stages = []  # [(from_value, [instructions])]
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            stages.append((ins["value"], []))
        elif ins["instruction"] != "COMMENT":
            if not stages:
                problem(f"{ins['instruction']} before the first FROM")
                continue
            stages[-1][1].append(ins)
    if len(stages) != 2:
        problem(f"expected 2 stages (builder, runtime), found {len(stages)}")
        return
    (builder_from, builder), (runtime_from, runtime) = stages
    if builder_from.split() != ["rust:1-bookworm", "AS", "builder"]:
        problem(f"builder stage must be `FROM rust:1-bookworm AS builder`, is `FROM {builder_from}`")
    if runtime_from.strip() != "debian:bookworm-slim":
        problem(f"runtime stage must be `FROM debian:bookworm-slim`, is `FROM {runtime_from}`")

    runs = [i["value"] for i in builder if i["instruction"] == "RUN"]
    if not any("apt-get install" in r and "protobuf-compiler" in r for r in runs):
        problem("builder stage does not install protobuf-compiler with apt-get")
    builds = [r for r in runs if "cargo build" in r]
    if len(builds) != 1:
        problem(f"builder stage must run `cargo build` once, runs it {len(builds)} times")
    else:
        words = shlex.split(builds[0][builds[0].index("cargo build"):].split("&&")[0])
        for flag in ("--release", "--workspace", "--bins"):
            if flag not in words:
                problem(f"`cargo build` lacks {flag}")
        if "-p" in words or "--package" in words or any(w.startswith("--package=") for w in words):
            problem("`cargo build` must build the workspace, not one package (-p changes feature unification)")

    runtime_runs = " ".join(i["value"] for i in runtime if i["instruction"] == "RUN")
    if "ca-certificates" not in runtime_runs:
        problem("runtime stage does not install ca-certificates")
    copies = [i["value"] for i in runtime if i["instruction"] == "COPY"]
    if not any(c.split()[0] == "--from=builder" and c.split()[-2].endswith("/" + binary) for c in copies):
        problem(f"runtime stage does not COPY --from=builder the binary {binary}")
    users = [i["value"].strip() for i in runtime if i["instruction"] == "USER"]
    if not users:
        problem("runtime stage has no USER: the image would run as root")
    elif users[-1].split(":")[0] in ("0", "root"):
        problem(f"runtime stage runs as root (USER {users[-1]})")
    exposes = [p for i in runtime if i["instruction"] == "EXPOSE" for p in i["value"].split()]
    if str(port) not in [p.split("/")[0] for p in exposes]:
        problem(f"runtime stage does not EXPOSE {port} (exposes {exposes})")
    entrypoints = [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"]
    if len(entrypoints) != 1:
        problem(f"runtime stage must have one ENTRYPOINT, has {len(entrypoints)}")
    else:
        try:
            entry = json.loads(entrypoints[0])
        except ValueError:
            problem(f"ENTRYPOINT is not in exec (JSON array) form: {entrypoints[0]}")
        else:
            if not entry or os.path.basename(entry[0]) != binary:
                problem(f"ENTRYPOINT {entry} does not run {binary}")


# ---------------------------------------------------------------- omnigraph.yaml and policies

GRAPH_ID = re.compile(r"^[a-zA-Z0-9-]{1,64}$")
RESERVED_IDS = {"graphs", "policies", "healthz", "openapi", "openapi.json"}
SERVER_ACTIONS = {"graph_list", "graph_create", "graph_delete", "graph_update"}


def check_policy_ref(where, ref):
    if not isinstance(ref, dict) or set(ref) != {"file"} or not isinstance(ref["file"], str):
        problem(f"{where}: policy must be {{file: PATH}}, is {ref!r}")


def check_omnigraph_config(doc, where="omnigraph.yaml"):
    """The keys shared/config accepts (it refuses unknown keys at start)."""
    if not isinstance(doc, dict):
        problem(f"{where}: not a mapping")
        return
    unknown = set(doc) - {"server", "graphs", "graph"}
    if unknown:
        problem(f"{where}: unknown top-level keys {sorted(unknown)}")
    if ("graphs" in doc) == ("graph" in doc):
        problem(f"{where}: needs exactly one of `graphs:` (multi mode) and `graph:` (single mode)")
    server = doc.get("server") or {}
    if not isinstance(server, dict):
        problem(f"{where}: server must be a mapping")
        server = {}
    unknown = set(server) - {"bind", "policy", "storage_roots"}
    if unknown:
        problem(f"{where}: unknown keys under server: {sorted(unknown)}")
    if "policy" in server:
        check_policy_ref(f"{where}: server", server["policy"])
    roots = server.get("storage_roots", [])
    if not isinstance(roots, list):
        problem(f"{where}: server.storage_roots must be a list")
        roots = []
    for root in roots:
        if not isinstance(root, str) or not (root.startswith("/") or re.match(r"^s3://[^/]+(/.*)?$", root)):
            problem(f"{where}: storage root {root!r} is neither an absolute path nor s3://bucket/prefix")
    entries = []
    if isinstance(doc.get("graphs"), dict):
        for gid, entry in doc["graphs"].items():
            if not GRAPH_ID.match(str(gid)) or str(gid).startswith("_") or gid in RESERVED_IDS:
                problem(f"{where}: invalid graph id {gid!r}")
            entries.append((f"graphs.{gid}", entry))
    elif "graphs" in doc:
        problem(f"{where}: graphs must be a mapping (use `graphs: {{}}` for none)")
    if "graph" in doc:
        entries.append(("graph", doc["graph"]))
    for name, entry in entries:
        if not isinstance(entry, dict) or "uri" not in entry or set(entry) - {"uri", "policy"}:
            problem(f"{where}: {name} must be {{uri, policy?}}")
        elif "policy" in entry:
            check_policy_ref(f"{where}: {name}", entry["policy"])


def check_server_policy(doc, where):
    """Shape of a server policy file (the control plane compiles it to Cedar at start)."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        problem(f"{where}: must be a mapping with `version: 1`")
        return
    unknown = set(doc) - {"version", "groups", "protected_branches", "rules"}
    if unknown:
        problem(f"{where}: unknown keys {sorted(unknown)}")
    groups = doc.get("groups") or {}
    for name, members in groups.items():
        if not isinstance(members, list) or not members:
            problem(f"{where}: group {name} must be a non-empty list")
    ids = set()
    for rule in doc.get("rules") or []:
        rid = rule.get("id")
        if rid in ids:
            problem(f"{where}: duplicate rule id {rid}")
        ids.add(rid)
        allow = rule.get("allow") or {}
        for action in allow.get("actions") or []:
            if action not in SERVER_ACTIONS:
                problem(f"{where}: rule {rid}: {action} is not a server action")
        actors = allow.get("actors")
        if isinstance(actors, dict) and "group" in actors and actors["group"] not in groups:
            problem(f"{where}: rule {rid}: unknown group {actors['group']}")
    if not ids:
        problem(f"{where}: no rules")


# ---------------------------------------------------------------- docker-compose

# ${VAR:?message}: compose refuses to start while VAR is unset or empty.
REQUIRED_REF = re.compile(r"\$\{(\w+):\?[^}]*\}")


def interpolate(value):
    """Compose's ${VAR:-default} with the default, ${VAR:?message} as `<VAR>` (a value the
    operator must give: two references compare equal when they name the same variable),
    $$ -> $."""
    if not isinstance(value, str):
        return value
    value = REQUIRED_REF.sub(lambda m: f"<{m.group(1)}>", value)
    value = re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", value)
    return value.replace("$$", "$")


def url_host_port(url):
    m = re.match(r"^http://([^/:]+):(\d+)/?$", url or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)


def flag(args, name):
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    return None


def check_compose(path):
    base = os.path.dirname(os.path.abspath(path))
    doc = load_yaml(path)
    services = doc.get("services") or {}
    volumes = set((doc.get("volumes") or {}).keys())

    def env(svc):
        e = services[svc].get("environment") or {}
        if isinstance(e, list):
            e = dict(item.split("=", 1) for item in e)
        return {k: interpolate(v) for k, v in e.items()}

    def command(svc):
        c = services[svc].get("command") or []
        return shlex.split(c) if isinstance(c, str) else [str(x) for x in c]

    for name, svc in services.items():
        build = svc.get("build")
        if isinstance(build, dict):
            dockerfile = os.path.join(base, build.get("context", "."), build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(dockerfile):
                problem(f"{name}: build dockerfile {dockerfile} does not exist")
        for mount in svc.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source")
            if source.startswith((".", "/")):
                if not os.path.exists(os.path.join(base, source)):
                    problem(f"{name}: mounted file {source} does not exist")
            elif source not in volumes:
                problem(f"{name}: volume {source} is not declared under volumes:")

    workers = {n for n in services if command(n)[:1] == ["serve"] and "--control-plane" in command(n)}
    if len(workers) < 3:
        problem(f"expected three data-plane workers, found {sorted(workers)}")
    control = [n for n in services if "omnigraph-control-plane" in json.dumps(services[n])]
    control = [n for n in control if n not in workers]
    if len(control) != 1:
        problem(f"expected one control-plane service, found {control}")
        return
    cp = control[0]
    cp_cmd = " ".join(command(cp))
    cp_bind = re.search(r"--bind \S+:(\d+)", cp_cmd)
    worker_ports = {}
    for w in sorted(workers):
        args = command(w)
        host, port = url_host_port(flag(args, "--control-plane"))
        if host != cp or (cp_bind and port != int(cp_bind.group(1))):
            problem(f"{w}: --control-plane {flag(args, '--control-plane')} is not the control-plane service")
        host, port = url_host_port(flag(args, "--advertise-url"))
        bind = flag(args, "--bind") or ""
        if host != w or not bind.endswith(f":{port}"):
            problem(f"{w}: --advertise-url {flag(args, '--advertise-url')} does not name this service and its --bind port")
        if not bind.startswith("0.0.0.0:"):
            problem(f"{w}: --bind {bind} is not reachable from other containers")
        worker_ports[w] = port

    store = None
    for n in [cp] + sorted(workers):
        e = env(n)
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                    "OMNIGRAPH_INTERNAL_TOKEN", "OMNIGRAPH_SERVER_BEARER_TOKENS_JSON"):
            if not e.get(key):
                problem(f"{n}: environment lacks {key}")
        if str(e.get("AWS_ALLOW_HTTP")).lower() != "true":
            problem(f"{n}: AWS_ALLOW_HTTP must be true for the plain-HTTP store")
        if str(e.get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")).lower() != "false":
            problem(f"{n}: AWS_VIRTUAL_HOSTED_STYLE_REQUEST must be false (path-style requests)")
        try:
            tokens = json.loads(e.get("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON") or "")
            if not isinstance(tokens, dict) or not tokens:
                raise ValueError
        except ValueError:
            problem(f"{n}: OMNIGRAPH_SERVER_BEARER_TOKENS_JSON is not a JSON object of actor -> token")
        host, _ = url_host_port(e.get("AWS_ENDPOINT_URL"))
        if host not in services:
            problem(f"{n}: AWS_ENDPOINT_URL {e.get('AWS_ENDPOINT_URL')} is not a service")
        store = host
    if store in services:
        s = env(store)
        cp_env = env(cp)
        if "rustfs/rustfs" not in str(services[store].get("image")):
            problem(f"{store}: the object store is not the rustfs/rustfs image")
        if (s.get("RUSTFS_ACCESS_KEY"), s.get("RUSTFS_SECRET_KEY")) != (cp_env.get("AWS_ACCESS_KEY_ID"), cp_env.get("AWS_SECRET_ACCESS_KEY")):
            problem(f"{store}: RUSTFS_ACCESS_KEY/RUSTFS_SECRET_KEY differ from the AWS credentials of the programs")

    proxies = [n for n in services if "nginx" in str(services[n].get("image"))]
    if len(proxies) != 1:
        problem(f"expected one nginx service, found {proxies}")
        return
    mounts = [m for m in services[proxies[0]].get("volumes") or [] if isinstance(m, str) and m.split(":")[1] == "/etc/nginx/nginx.conf"]
    if not mounts:
        problem("nginx: nginx.conf is not mounted at /etc/nginx/nginx.conf")
        return
    with open(os.path.join(base, mounts[0].split(":")[0])) as f:
        conf = re.sub(r"#.*", "", f.read())
    upstreams = re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", conf)
    if len(upstreams) != 1:
        problem(f"nginx.conf: expected one upstream block, found {len(upstreams)}")
        return
    name, body = upstreams[0]
    servers = set(re.findall(r"^\s*server\s+([^\s;]+)", body, re.M))
    expected = {f"{w}:{p}" for w, p in worker_ports.items()}
    if servers != expected:
        problem(f"nginx.conf: upstream {name} has {sorted(servers)}, the workers are {sorted(expected)}")
    if re.search(r"^\s*(least_conn|ip_hash|hash|random)\b", body, re.M):
        problem(f"nginx.conf: upstream {name} is not round-robin")
    if f"proxy_pass http://{name}" not in conf:
        problem(f"nginx.conf: no proxy_pass to upstream {name}")


# ---------------------------------------------------------------- nginx: /internal/

PASS_DIRECTIVES = {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"}


def nginx_tree(text):
    """nginx.conf as a list of (name, args, children or None): comments dropped, quoted
    strings kept whole."""
    tokens = re.findall(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[{};]|[^\s{};'\"]+",
                        re.sub(r"(?m)(^|\s)#.*$", r"\1", text))
    pos = 0

    def block():
        nonlocal pos
        out, words = [], []
        while pos < len(tokens):
            t = tokens[pos]
            pos += 1
            if t == ";":
                out.append((words[0], words[1:], None))
                words = []
            elif t == "{":
                children = block()
                out.append((words[0], words[1:], children))
                words = []
            elif t == "}":
                return out
            else:
                words.append(t)
        return out

    return block()


def directives(tree, name):
    """Every directive `name` anywhere in tree, with its args and children."""
    found = []
    for d, args, children in tree:
        if d == name:
            found.append((args, children))
        if children:
            found += directives(children, name)
    return found


def check_nginx_internal(text, where):
    """Every server that passes requests on answers /internal/* itself, with a 4xx and no
    pass: /internal/* is the control plane's channel to the workers (registry pushes)."""
    for server_args, server in directives(nginx_tree(text), "server"):
        if server is None:
            continue  # a `server host:port;` line of an upstream
        if not any(directives(server, p) for p in PASS_DIRECTIVES):
            continue
        locations = directives(server, "location")
        regexes = [a for a, _ in locations if a and a[0] in ("~", "~*")]
        guard = None
        for args, body in locations:
            if args in (["^~", "/internal/"], ["^~", "/internal"]) or (
                    args in (["/internal/"], ["/internal"]) and not regexes):
                guard = (args, body)
            elif any("internal" in a for a in args):
                # an exact or longer prefix (or a regex) would win over the guard for its paths
                if any(directives(body or [], p) for p in PASS_DIRECTIVES):
                    problem(f"{where}: location {' '.join(args)} passes /internal/ requests on")
        if guard is None:
            problem(f"{where}: no `location ^~ /internal/` answering /internal/* itself "
                    "(the proxy must never forward the control plane's internal routes)")
            continue
        args, body = guard
        body = body or []
        passes = [p for p in PASS_DIRECTIVES if directives(body, p)]
        if passes:
            problem(f"{where}: location {' '.join(args)} uses {passes}: it must answer, never forward")
        returns = [a for a, _ in directives(body, "return")]
        if not returns or not re.fullmatch(r"4\d\d", returns[0][0] if returns[0] else ""):
            problem(f"{where}: location {' '.join(args)} does not `return 404` (has {returns})")
        if directives(body, "location"):
            problem(f"{where}: location {' '.join(args)} has nested locations")


def check_nginx(path):
    with open(path) as f:
        check_nginx_internal(f.read(), path)


# ---------------------------------------------------------------- Kubernetes

def check_k8s(directory):
    objects = []
    files = sorted(f for f in os.listdir(directory) if f.endswith((".yaml", ".yml")))
    for f in files:
        if f.startswith("kustomization."):
            continue
        for d in load_yaml_docs(os.path.join(directory, f)):
            objects.append((f, d))
    by_kind = {}
    for f, d in objects:
        by_kind.setdefault(d.get("kind"), {})[d["metadata"]["name"]] = d

    kust = load_yaml(os.path.join(directory, "kustomization.yaml"))
    if kust.get("kind") != "Kustomization":
        problem("kustomization.yaml: kind is not Kustomization")
    # Generated Secrets: their keys are those of the env files' `.example` beside them (the
    # env files themselves are the operator's, git-ignored, absent from a clone).
    for gen in kust.get("secretGenerator") or []:
        keys = {}
        for src in gen.get("envs") or []:
            example = os.path.join(directory, src + ".example")
            if not os.path.isfile(example):
                problem(f"kustomization.yaml: secretGenerator {gen.get('name')}: no {src}.example listing its keys")
                continue
            keys.update(read_env_file(example))
        by_kind.setdefault("Secret", {})[gen["name"]] = {"metadata": {"name": gen["name"]}, "stringData": keys}
    listed = kust.get("resources") or []
    for r in listed:
        if not os.path.isfile(os.path.join(directory, r)):
            problem(f"kustomization.yaml: resource {r} does not exist")
    for f in files:
        if not f.startswith("kustomization.") and f not in listed:
            problem(f"kustomization.yaml: {f} is not listed under resources")

    def pod_checks(name, workload):
        spec = workload["spec"]["template"]["spec"]
        labels = workload["spec"]["template"]["metadata"].get("labels") or {}
        selector = workload["spec"]["selector"].get("matchLabels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            problem(f"{name}: selector {selector} does not match the pod labels {labels}")
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates") or []}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
                problem(f"{name}: volume {v['name']} names a missing ConfigMap {v['configMap']['name']}")
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            for m in c.get("volumeMounts") or []:
                if m["name"] not in volumes and m["name"] not in claims:
                    problem(f"{name}/{c['name']}: mounts an undefined volume {m['name']}")
            for src in c.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in src and src[key]["name"] not in by_kind.get(kind, {}):
                        problem(f"{name}/{c['name']}: envFrom names a missing {kind} {src[key]['name']}")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        problem(f"{name}/{c['name']}: no {part}.{r}")
        for c in spec["containers"]:
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                get = (c.get(probe) or {}).get("httpGet") or {}
                if get.get("path") != path:
                    problem(f"{name}/{c['name']}: {probe} must GET {path}, has {get or 'none'}")
                if get.get("port") not in ports and get.get("port") not in ports.values():
                    problem(f"{name}/{c['name']}: {probe} port {get.get('port')} is not a container port")
        return spec

    def service_for(workload):
        sel = workload["spec"]["selector"]["matchLabels"]
        return [s for s in by_kind.get("Service", {}).values() if s["spec"].get("selector") == sel]

    cp = list(by_kind.get("StatefulSet", {}).values())
    if len(cp) != 1:
        problem(f"expected one StatefulSet (the control plane), found {len(cp)}")
    else:
        sts = cp[0]
        name = f"StatefulSet/{sts['metadata']['name']}"
        spec = pod_checks(name, sts)
        if sts["spec"].get("replicas") != 1:
            problem(f"{name}: replicas must be 1 (omnigraph.yaml has one writer)")
        if not sts["spec"].get("volumeClaimTemplates"):
            problem(f"{name}: no volumeClaimTemplates")
        if sts["spec"].get("serviceName") not in by_kind.get("Service", {}):
            problem(f"{name}: serviceName names no Service")
        main = spec["containers"][0]
        config = flag(main.get("args") or [], "--config") or ""
        mounts = {m["mountPath"]: m["name"] for m in main.get("volumeMounts") or []}
        claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
        if mounts.get(os.path.dirname(config)) != claim:
            problem(f"{name}: --config {config} is not on the persistent volume {claim}")
        if "omnigraph-control-plane" not in main.get("image", ""):
            problem(f"{name}: image {main.get('image')} is not the control plane's")
        cp_services = service_for(sts)
        if not cp_services:
            problem(f"{name}: no Service selects its pods")
        files_cm = [v["configMap"]["name"] for v in spec.get("volumes") or [] if "configMap" in v]
        for cm_name in files_cm:
            cm = by_kind.get("ConfigMap", {}).get(cm_name)
            if cm and "omnigraph.yaml" in (cm.get("data") or {}):
                mount = next(m["mountPath"] for m in main["volumeMounts"]
                             if m["name"] in [v["name"] for v in spec["volumes"] if v.get("configMap", {}).get("name") == cm_name])
                doc = yaml.safe_load(cm["data"]["omnigraph.yaml"])
                check_omnigraph_config(doc, f"ConfigMap/{cm_name} omnigraph.yaml")
                pfile = ((doc.get("server") or {}).get("policy") or {}).get("file", "")
                if pfile and (os.path.dirname(pfile) != mount or os.path.basename(pfile) not in cm["data"]):
                    problem(f"ConfigMap/{cm_name}: server policy {pfile} is not a key of this ConfigMap mounted at {mount}")
                elif pfile:
                    check_server_policy(yaml.safe_load(cm["data"][os.path.basename(pfile)]), f"ConfigMap/{cm_name} {os.path.basename(pfile)}")

    dps = list(by_kind.get("Deployment", {}).values())
    if len(dps) != 1:
        problem(f"expected one Deployment (the data plane), found {len(dps)}")
    else:
        dep = dps[0]
        name = f"Deployment/{dep['metadata']['name']}"
        spec = pod_checks(name, dep)
        main = spec["containers"][0]
        args = main.get("args") or []
        if "omnigraph-data-plane" not in main.get("image", "") or args[:1] != ["serve"]:
            problem(f"{name}: is not `omnigraph-data-plane serve`")
        host, port = url_host_port(flag(args, "--control-plane"))
        svc = by_kind.get("Service", {}).get(host)
        if not svc or port not in [p["port"] for p in svc["spec"]["ports"]]:
            problem(f"{name}: --control-plane {flag(args, '--control-plane')} is not a Service port")
        elif cp and service_for(cp[0]) and svc not in service_for(cp[0]):
            problem(f"{name}: --control-plane names a Service that does not select the control plane")
        if not service_for(dep):
            problem(f"{name}: no Service selects its pods")
        hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
                if h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                and h["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]]
        if len(hpas) != 1:
            problem(f"{name}: expected one HorizontalPodAutoscaler, found {len(hpas)}")
        else:
            hpa = hpas[0]
            if hpa["apiVersion"] != "autoscaling/v2":
                problem("HorizontalPodAutoscaler: apiVersion must be autoscaling/v2")
            if not any(m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
                       and m["resource"]["target"]["type"] == "Utilization" for m in hpa["spec"].get("metrics") or []):
                problem("HorizontalPodAutoscaler: no CPU utilisation metric")
            if "replicas" in dep["spec"]:
                problem(f"{name}: sets replicas, which fights the HorizontalPodAutoscaler")

    secrets = by_kind.get("Secret", {})
    keys = set()
    for s in secrets.values():
        keys |= set((s.get("stringData") or {}).keys()) | set((s.get("data") or {}).keys())
    for key in ("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON", "OMNIGRAPH_INTERNAL_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if key not in keys:
            problem(f"Secret: no {key}")
    for s in secrets.values():
        tokens = (s.get("stringData") or {}).get("OMNIGRAPH_SERVER_BEARER_TOKENS_JSON")
        if tokens:
            try:
                if not isinstance(json.loads(tokens), dict):
                    raise ValueError
            except ValueError:
                problem(f"Secret/{s['metadata']['name']}: OMNIGRAPH_SERVER_BEARER_TOKENS_JSON is not a JSON object")


def extract_configmap(path, name, out):
    for d in load_yaml_docs(path):
        if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == name:
            os.makedirs(out, exist_ok=True)
            for key, value in (d.get("data") or {}).items():
                with open(os.path.join(out, key), "w") as f:
                    f.write(value)
            return
    problem(f"{path}: no ConfigMap {name}")


# ---------------------------------------------------------------- no shipped secret

# Names whose value is a secret: OMNIGRAPH_*TOKEN* (bearer and internal tokens, the tokens
# JSON), *SECRET* (AWS_SECRET_ACCESS_KEY, RUSTFS_SECRET_KEY, S3_SECRET_KEY), *PASSWORD*.
# A *_FILE variable names a file, not a secret.
SECRET_NAME = re.compile(r"^(OMNIGRAPH_\w*TOKEN\w*|\w*SECRET\w*|\w*PASSWORD\w*)$")
PLACEHOLDER = re.compile(r"(?i)\b(change-?me|replace-?me)\b")
REQUIRED = "<required>"


def is_secret_name(name):
    return isinstance(name, str) and bool(SECRET_NAME.match(name)) and not name.endswith("_FILE")


def read_env_file(path):
    """KEY=VALUE lines as kustomize and compose read them (# comments, blank lines)."""
    pairs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                pairs[key.strip()] = value
    return pairs


def shipped_files(deploy_dir):
    """The files under deploy_dir a commit would carry: git's view (tracked and not
    ignored) when deploy_dir is in a work tree, else every file."""
    try:
        out = subprocess.run(["git", "-C", deploy_dir, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "."], check=True, capture_output=True, timeout=30).stdout
        files = [os.path.join(deploy_dir, f) for f in out.decode().split("\0") if f]
        return sorted(f for f in files if os.path.isfile(f)), True
    except (OSError, subprocess.SubprocessError):
        files = [os.path.join(d, n) for d, _, names in os.walk(deploy_dir) for n in names]
        return sorted(files), False


def git_ignored(path):
    try:
        return subprocess.run(["git", "-C", os.path.dirname(path), "check-ignore", "-q", path],
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return None


def check_compose_secret(where, key, value):
    """A compose secret must be ${VAR:?message}: no default, no fixed value."""
    text = REQUIRED_REF.sub(REQUIRED, str(value))
    if key.endswith("_JSON"):
        try:
            doc = json.loads(text)
        except ValueError:
            problem(f"{where}: {key} is not JSON once its ${{VAR:?...}} references are set")
            return
        leaves = list(doc.values()) if isinstance(doc, dict) else [doc]
        if not leaves or any(v != REQUIRED for v in leaves):
            problem(f"{where}: every value of {key} must be a required ${{VAR:?message}} reference, is {value!r}")
    elif text != REQUIRED:
        problem(f"{where}: {key} must be a required ${{VAR:?message}} reference (no default), is {value!r}")


def walk_secret_keys(node, where, on_secret):
    """Calls on_secret(where, key, value) for every mapping key that names a secret, and for
    every Kubernetes `env` item {name: SECRET, value: ...}."""
    if isinstance(node, dict):
        if is_secret_name(node.get("name")) and "value" in node:
            on_secret(where, node["name"], node["value"])
        for k, v in node.items():
            if is_secret_name(k):
                on_secret(where, k, v)
            walk_secret_keys(v, where, on_secret)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str) and "=" in item and is_secret_name(item.split("=", 1)[0]):
                on_secret(where, *item.split("=", 1))  # compose's `environment: [KEY=VALUE]`
            else:
                walk_secret_keys(item, where, on_secret)


def check_secrets(deploy_dir):
    """No file under deploy/ ships a secret: compose secrets are ${VAR:?message}, Kubernetes
    has no Secret with values and generates its Secret from a git-ignored env file, env
    files and examples carry empty values, and no file holds a placeholder such as
    change-me."""
    files, from_git = shipped_files(deploy_dir)
    for path in files:
        rel = os.path.relpath(path, deploy_dir)
        name = os.path.basename(path)
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError as e:
            problem(f"{rel}: unreadable: {e}")
            continue
        for m in PLACEHOLDER.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problem(f"{rel}:{line}: placeholder secret {m.group(0)!r}")
        for m in re.finditer(r"\$\{(\w+)(:?[-?+]?)", text):
            if is_secret_name(m.group(1)) and m.group(2) != ":?":
                line = text.count("\n", 0, m.start()) + 1
                problem(f"{rel}:{line}: ${{{m.group(1)}{m.group(2)}...}}: a secret must be required (${{VAR:?message}})")
        if name.endswith(".env") or ".env." in name or name == ".env":
            for key, value in read_env_file(path).items():
                if value.strip():
                    problem(f"{rel}: {key} has a value; an env file shipped here holds keys only")
            continue
        if not name.endswith((".yaml", ".yml")):
            continue
        try:
            docs = load_yaml_docs(path)
        except yaml.YAMLError as e:
            problem(f"{rel}: not YAML: {e}")
            continue
        compose = "services" in (docs[0] if docs and isinstance(docs[0], dict) else {})
        for doc in docs:
            if compose:
                walk_secret_keys(doc, rel, check_compose_secret)
                continue
            if isinstance(doc, dict) and doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
                problem(f"{rel}: Secret/{(doc.get('metadata') or {}).get('name')} carries values")

            def no_value(where, key, value):
                if value not in (None, "", {}, []):
                    problem(f"{where}: {key} carries a value")

            walk_secret_keys(doc, rel, no_value)

    k8s = os.path.join(deploy_dir, "k8s")
    kust_path = os.path.join(k8s, "kustomization.yaml")
    if os.path.isfile(kust_path):
        kust = load_yaml(kust_path)
        for gen in kust.get("secretGenerator") or []:
            where = f"k8s/kustomization.yaml: secretGenerator {gen.get('name')}"
            if gen.get("literals"):
                problem(f"{where}: literals are values shipped in the file")
            for src in (gen.get("envs") or []) + [f.split("=")[-1] for f in gen.get("files") or []]:
                src_path = os.path.join(k8s, src)
                if src_path in files:
                    problem(f"{where}: {src} would be committed; it must be git-ignored")
                elif from_git and not git_ignored(src_path):
                    problem(f"{where}: {src} is not git-ignored")
    compose_env = os.path.join(deploy_dir, "compose", ".env")
    if from_git and os.path.isdir(os.path.dirname(compose_env)) and not git_ignored(compose_env):
        problem("compose/.env (the compose secrets) is not git-ignored")


# ---------------------------------------------------------------- README

def check_readme(readme, root):
    with open(readme) as f:
        text = f.read()
    deploy = os.path.dirname(os.path.abspath(readme))
    for dirpath, _, names in os.walk(deploy):
        for n in names:
            rel = os.path.relpath(os.path.join(dirpath, n), deploy)
            if rel != "README.md" and rel not in text and n not in text:
                problem(f"{readme}: does not mention {rel}")
    for ref in sorted(set(re.findall(r"`((?:deploy|tests)/[\w./-]+)`", text))):
        path = os.path.join(root, ref)
        # A git-ignored path is a file the operator writes (compose/.env, k8s/secrets.env).
        if not os.path.exists(path) and not git_ignored(path):
            problem(f"{readme}: names {ref}, which does not exist")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "dockerfile":
        check_dockerfile(args[0], args[1], int(args[2]))
    elif cmd == "compose":
        check_compose(args[0])
    elif cmd == "omnigraph-config":
        check_omnigraph_config(load_yaml(args[0]), args[0])
    elif cmd == "policy":
        check_server_policy(load_yaml(args[0]), args[0])
    elif cmd == "nginx":
        check_nginx(args[0])
    elif cmd == "k8s":
        check_k8s(args[0])
    elif cmd == "extract-configmap":
        extract_configmap(args[0], args[1], args[2])
    elif cmd == "readme":
        check_readme(args[0], args[1])
    elif cmd == "secrets":
        check_secrets(args[0])
    else:
        sys.exit(f"unknown check {cmd}")
    for p in dict.fromkeys(PROBLEMS):  # once each (YAML anchors repeat values)
        print(p)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
