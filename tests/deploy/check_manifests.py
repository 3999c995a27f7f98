#!/usr/bin/env python3
"""Checks the container deployment files (deploy/docker, deploy/compose, deploy/k8s) against
the klerno-node binary they deploy.

    check_manifests.py --node build/release/node/klerno-node [--root REPO] [--no-kubectl]

What it checks, and why it matters:
- every YAML file under deploy/compose and deploy/k8s parses;
- every environment variable given to a klerno-node container is a setting of that binary (its
  `--print-config` keys) or one of the image entrypoint's own variables: klerno-node refuses an
  unknown key in a config file, but an unknown environment variable is silently ignored;
- the environment each container would get (compose: interpolated from .env.example with test
  secrets; Kubernetes: ConfigMap, env, downward API, Secret keys, the entrypoint's rules) passes
  `klerno-node --print-config`, which validates every value the way the node does at start;
- the orchestrator waits longer than the node's shutdown budget (README, Shutdown:
  SHUTDOWN_GRACE + SHUTDOWN_DRAIN_TIMEOUT + 2 x SHUTDOWN_STOP_TIMEOUT + 5 s) before it kills;
- probes point at /startup, /readiness and /liveness on the HTTP port;
- exactly one pod or container may form a new cluster (CLUSTER_BOOTSTRAP), and it has no seeds;
  the seeds of every other one name the headless service (Kubernetes) or the node services
  (compose), and the headless service publishes not-ready addresses;
- the cluster port is reachable only from cluster members (NetworkPolicy), the HPA matches the
  autoscaling settings, the PDB keeps a majority, every member has the same CLUSTER_TLS;
- the Dockerfile's runtime stage installs the package of every shared library klerno-node needs.

Kubernetes manifests are rendered with `kubectl kustomize` when kubectl (with kustomize v4 or
later) is on PATH (the base, and the base with the optional components), else with a small
built-in merge of the components' patches.

Needs python3 and PyYAML (Debian: python3-yaml); exits 77 (skipped) without PyYAML, 1 when a
check fails, 0 when all pass. Installs nothing.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    print("SKIPPED: PyYAML is not installed (Debian package python3-yaml)")
    sys.exit(77)

# Variables that the image's entrypoint (deploy/docker/entrypoint.sh) reads, not klerno-node.
ENTRYPOINT_VARS = {"KLERNO_BOOTSTRAP_HOST"}
# Read by klerno-node besides its settings (the config file's path).
NODE_EXTRA_VARS = {"KLERNO_CONFIG"}

# Test values for secrets (the templates hold placeholders): long enough for APP_ENV=production.
TEST_SECRETS = {
    "API_KEY": "test-api-key-0123456789abcdef",
    "SECRET_KEY": "test-secret-key-0123456789abcdef",
    "CLUSTER_SECRET": "test-cluster-secret-0123456789abcdef",
    "POSTGRES_PASSWORD": "testpassword0123456789",
    "DATABASE_URL": "postgresql://klerno:testpassword@db.example:5432/klerno",
    "DATABASE_READ_URLS": "",
    "REDIS_URL": "redis://:testpassword0123456789@redis.example:6379/0",
}
TEST_POD_IP = "10.1.2.3"

COMPONENT_ORDER = ["workers", "edge", "cluster-tls"]


class Checker:
    def __init__(self):
        self.passed = 0
        self.failures = []
        self.section = ""

    def begin(self, name):
        self.section = name
        print(f"-- {name}")

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"[{self.section}] {message}")
            print(f"   FAIL: {message}")
        return ok


C = Checker()


# --------------------------------------------------------------------------------------------
# klerno-node


class Node:
    def __init__(self, path):
        self.path = path
        out = self.print_config({})
        if out is None:
            sys.exit(f"error: {path} --print-config failed with an empty environment")
        self.keys = set(out)
        self.defaults = out
        self.help = subprocess.run([path, "--help"], capture_output=True, text=True).stdout

    def print_config(self, env):
        """The effective settings for `env` (a dict), or None when the node refuses them; the
        refusal is in self.last_error."""
        clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        clean.update({k: str(v) for k, v in env.items()})
        r = subprocess.run([self.path, "--print-config"], env=clean, capture_output=True,
                           text=True, timeout=30)
        self.last_error = (r.stderr or r.stdout).strip()
        if r.returncode != 0:
            return None
        settings = {}
        for line in r.stdout.splitlines():
            if "=" in line and not line.startswith("#"):
                k, _, v = line.partition("=")
                settings[k.strip()] = v.strip()
        return settings


def seconds(text):
    """'5s', '1500ms', '1m30s', '2h', '45' -> seconds (float)."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0.0
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    pos = 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text):
        if m.start() != pos:
            raise ValueError(f"not a duration: {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"not a duration: {text!r}")
    return total


def shutdown_budget(settings):
    return (seconds(settings["SHUTDOWN_GRACE"]) + seconds(settings["SHUTDOWN_DRAIN_TIMEOUT"])
            + 2 * seconds(settings["SHUTDOWN_STOP_TIMEOUT"]) + 5)


def truthy(value):
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def split_host_port(entry):
    entry = entry.strip()
    m = re.fullmatch(r"\[(.+)\]:(\d+)", entry) or re.fullmatch(r"([^:]+):(\d+)", entry)
    return (m.group(1), int(m.group(2))) if m else (entry, None)


def check_env_names(names, node, where):
    allowed = node.keys | ENTRYPOINT_VARS | NODE_EXTRA_VARS
    for name in names:
        C.check(name in allowed, f"{where}: {name} is not a klerno-node setting "
                                 "(nor a variable of the image's entrypoint)")


def simulate_entrypoint(env, hostname):
    """What deploy/docker/entrypoint.sh does to the environment before it execs klerno-node."""
    env = dict(env)
    if env.get("KLERNO_BOOTSTRAP_HOST"):
        if hostname == env["KLERNO_BOOTSTRAP_HOST"]:
            env["CLUSTER_BOOTSTRAP"] = "true"
            env["CLUSTER_SEEDS"] = ""
        else:
            env["CLUSTER_BOOTSTRAP"] = "false"
    if not env.get("CLUSTER_ADVERTISE_HOST") and env.get("CLUSTER_BIND_ADDRESS") in (
            "0.0.0.0", "::", "[::]"):
        env["CLUSTER_ADVERTISE_HOST"] = TEST_POD_IP
    for k in ENTRYPOINT_VARS:
        env.pop(k, None)
    return env


def load_yaml_file(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# --------------------------------------------------------------------------------------------
# deploy/docker


def check_docker(root, node):
    C.begin("deploy/docker")
    dockerfile = os.path.join(root, "deploy/docker/Dockerfile")
    entrypoint = os.path.join(root, "deploy/docker/entrypoint.sh")
    if not C.check(os.path.exists(dockerfile), "deploy/docker/Dockerfile exists"):
        return
    text = open(dockerfile).read()
    lines = re.sub(r"\\\n", " ", text).splitlines()
    instr = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    froms = [ln for ln in instr if ln.upper().startswith("FROM ")]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    images = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), ln.split()[1])
              for ln in froms]
    C.check(len(froms) >= 2, "multi-stage build (a build and a runtime stage)")
    C.check(all(i.startswith("debian:bookworm") for i in images),
            f"stages start from debian:bookworm[-slim] (found {images})")
    C.check(images and images[-1].startswith("debian:bookworm-slim"),
            "the runtime stage is debian:bookworm-slim")
    runtime = text[text.rfind("\nFROM "):]
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    C.check(bool(user) and re.fullmatch(r"[1-9]\d*(:\d+)?", user[-1]) is not None,
            "the runtime stage runs as a numeric non-root USER (runAsNonRoot can verify it)")
    exposed = set(re.findall(r"\d+", " ".join(re.findall(r"^EXPOSE\s+(.+)$", runtime, re.M))))
    for key in ("PORT", "CLUSTER_PORT"):
        C.check(node.defaults[key] in exposed, f"EXPOSE {node.defaults[key]} ({key} default)")
    C.check(re.search(r"^STOPSIGNAL\s+SIGTERM\s*$", runtime, re.M) is not None,
            "STOPSIGNAL SIGTERM")
    ep = re.findall(r"^ENTRYPOINT\s+\[\s*\"([^\"]+)\"", runtime, re.M)
    C.check(bool(ep) and re.search(r"COPY\b.*deploy/docker/entrypoint\.sh\s+" + re.escape(ep[-1]),
                                   runtime) is not None,
            "ENTRYPOINT is deploy/docker/entrypoint.sh, copied into the image")
    C.check(re.search(r"cmake --build \S+ --target klerno-node", text) is not None
            and "-DCMAKE_BUILD_TYPE=Release" in text, "builds klerno-node in Release")
    ignore = os.path.join(root, "deploy/docker/Dockerfile.dockerignore")
    if C.check(os.path.exists(ignore), "Dockerfile.dockerignore keeps build/ and .run/ out"):
        pats = [p.strip() for p in open(ignore) if p.strip() and not p.startswith("#")]
        for d in ("build/", ".run/", ".git/"):
            C.check(d in pats or d.rstrip("/") in pats, f"Dockerfile.dockerignore excludes {d}")
        C.check("!deploy/docker/entrypoint.sh" in pats or not any(
            p.rstrip("/") == "deploy" for p in pats),
            "Dockerfile.dockerignore keeps deploy/docker/entrypoint.sh in the context")
    if C.check(os.path.exists(entrypoint), "deploy/docker/entrypoint.sh exists"):
        ep_text = open(entrypoint).read()
        for v in ENTRYPOINT_VARS:
            C.check(v in ep_text, f"the entrypoint reads {v}")
        C.check(re.search(r"^exec /usr/local/bin/klerno-node \"\$@\"", ep_text, re.M) is not None,
                "the entrypoint execs klerno-node (PID 1 gets SIGTERM)")
        C.check(os.access(entrypoint, os.X_OK), "entrypoint.sh is executable")
    for v in NODE_EXTRA_VARS:
        C.check(v in node.help, f"klerno-node --help mentions {v}")

    # The runtime stage installs the package of every library klerno-node links directly.
    readelf, dpkg = shutil.which("readelf"), shutil.which("dpkg-query")
    if not (readelf and dpkg):
        print("   (runtime libraries not checked: readelf or dpkg-query missing)")
        return
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run([readelf, "-d", node.path], capture_output=True,
                                       text=True).stdout)
    install = re.findall(r"apt-get install[^&]*", runtime)
    runtime_pkgs = set(" ".join(install).split())
    # Part of debian:bookworm-slim (essential or required).
    base = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}
    for lib in needed:
        path = None
        for d in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                  "/lib/aarch64-linux-gnu", "/usr/lib", "/lib"):
            if os.path.exists(os.path.join(d, lib)):
                path = os.path.realpath(os.path.join(d, lib))
                break
        owner = None
        if path:
            for candidate in (path, path.replace("/usr/lib/", "/lib/", 1),
                              path.replace("/lib/", "/usr/lib/", 1)):
                r = subprocess.run([dpkg, "-S", candidate], capture_output=True, text=True)
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0].strip()
                    break
        if owner is None:
            print(f"   (no Debian package found for {lib}; not checked)")
            continue
        C.check(owner in runtime_pkgs or owner in base,
                f"the runtime stage installs {owner} (for {lib}, which klerno-node links)")


# --------------------------------------------------------------------------------------------
# deploy/compose


def read_env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, _, v = line.partition("=")
        out[k.strip()] = interpolate(v.strip().strip('"').strip("'"), out, "")[0]
    return out


def interpolate(text, variables, where, missing=None):
    """Compose interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}.
    Returns (text, errors); names used without a default and not set go into `missing`."""
    errors = []

    def repl(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        val = variables.get(name)
        if op in (":-", "-"):
            return arg if val is None or (op == ":-" and val == "") else val
        if op in (":?", "?"):
            if val is None or (op == ":?" and val == ""):
                errors.append(f"{where}: ${{{name}}} is required ({arg})")
                return ""
            return val
        if val is None and missing is not None:
            missing.add(name)
        return val or ""

    rx = r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)"
    return re.sub(rx, repl, text), errors


def interpolate_tree(node_, variables, where, errors, missing):
    if isinstance(node_, dict):
        return {k: interpolate_tree(v, variables, f"{where}.{k}", errors, missing)
                for k, v in node_.items()}
    if isinstance(node_, list):
        return [interpolate_tree(v, variables, f"{where}[{i}]", errors, missing)
                for i, v in enumerate(node_)]
    if isinstance(node_, str):
        out, errs = interpolate(node_, variables, where, missing)
        errors.extend(errs)
        return out
    return node_


def env_dict(environment):
    if environment is None:
        return {}
    if isinstance(environment, list):
        out = {}
        for item in environment:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return {k: ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in environment.items()}


def check_compose(root, node):
    C.begin("deploy/compose")
    cdir = os.path.join(root, "deploy/compose")
    path = os.path.join(cdir, "docker-compose.yml")
    if not C.check(os.path.exists(path), "deploy/compose/docker-compose.yml exists"):
        return
    for f in sorted(os.listdir(cdir)):
        if f.endswith((".yml", ".yaml")):
            try:
                load_yaml_file(os.path.join(cdir, f))
                C.check(True, f"{f} parses")
            except yaml.YAMLError as e:
                C.check(False, f"{f} does not parse: {e}")
                return
    raw = load_yaml_file(path)[0]
    example = os.path.join(cdir, ".env.example")
    if not C.check(os.path.exists(example), ".env.example exists"):
        return
    env_example = read_env_file(example)
    for k in ("API_KEY", "SECRET_KEY", "CLUSTER_SECRET", "POSTGRES_PASSWORD"):
        C.check(k in env_example, f".env.example declares {k}")
        C.check(env_example.get(k, "") == "", f".env.example leaves {k} empty (no secret in git)")
    gi = os.path.join(cdir, ".gitignore")
    C.check(os.path.exists(gi) and ".env" in open(gi).read().split(),
            "deploy/compose/.gitignore ignores .env")

    variables = dict(env_example)
    for k, v in TEST_SECRETS.items():
        if not variables.get(k):
            variables[k] = v
    errors, missing = [], set()
    compose = interpolate_tree(raw, variables, "compose", errors, missing)
    for e in errors:
        C.check(False, f"{e}: declare it in .env.example")
    for name in sorted(missing):
        C.check(False, f"${{{name}}} has no default and is not in .env.example")
    services = compose.get("services", {})
    nodes = {n: s for n, s in services.items()
             if str((s.get("build") or {}).get("dockerfile", "")).endswith("deploy/docker/Dockerfile")}
    C.check(len(nodes) >= 2, f"node services build deploy/docker/Dockerfile (found {sorted(nodes)})")

    effective = {}
    for name, svc in nodes.items():
        env = env_dict(svc.get("environment"))
        check_env_names(env, node, f"compose service {name}")
        host = svc.get("hostname", name)
        eff_env = simulate_entrypoint({k: v for k, v in env.items() if v is not None}, host)
        settings = node.print_config(eff_env)
        if not C.check(settings is not None,
                       f"compose service {name}: klerno-node refuses its environment: "
                       f"{node.last_error}"):
            continue
        effective[name] = settings
        budget = shutdown_budget(settings)
        grace = svc.get("stop_grace_period")
        try:
            grace_s = seconds(grace) if grace is not None else 0
        except ValueError:
            grace_s = 0
        C.check(grace_s > budget,
                f"compose service {name}: stop_grace_period ({grace}) above the shutdown budget "
                f"({budget:g} s)")
        C.check(settings["CLUSTER_BIND_ADDRESS"] in ("0.0.0.0", "::"),
                f"compose service {name}: the cluster port binds all interfaces "
                "(other containers reach it)")
        hc = " ".join(map(str, (svc.get("healthcheck") or {}).get("test", [])))
        C.check("/readiness" in hc and settings["PORT"] in hc,
                f"compose service {name}: healthcheck asks /readiness on PORT")
        deps = svc.get("depends_on") or {}
        pg = deps.get("postgres") if isinstance(deps, dict) else None
        C.check(isinstance(pg, dict) and pg.get("condition") == "service_healthy",
                f"compose service {name}: waits for a healthy postgres")
        db_host = re.sub(r"^.*@", "", settings["DATABASE_URL"]).split("/")[0].split(":")[0]
        C.check(db_host in services, f"compose service {name}: DATABASE_URL host {db_host} "
                                     "is a compose service")
        C.check(not svc.get("ports") or all("4370" not in str(p) for p in svc.get("ports")),
                f"compose service {name}: the cluster port is not published")

    # Exactly one service may bootstrap, as one container, without seeds.
    boot = [n for n, s in effective.items() if truthy(s["CLUSTER_BOOTSTRAP"])]
    C.check(len(boot) == 1, f"exactly one compose service has CLUSTER_BOOTSTRAP=true ({boot})")
    for n in boot:
        replicas = ((nodes[n].get("deploy") or {}).get("replicas", 1))
        C.check(replicas == 1, f"bootstrap service {n} runs one container (replicas {replicas})")
        C.check(effective[n]["CLUSTER_SEEDS"] == "",
                f"bootstrap service {n} has no CLUSTER_SEEDS (it joins through the membership "
                "table; with seeds it can wait forever for nodes that wait for it)")
    for n, s in effective.items():
        if n in boot:
            continue
        seeds = [x for x in s["CLUSTER_SEEDS"].split(",") if x]
        C.check(bool(seeds), f"compose service {n} has CLUSTER_SEEDS")
        for seed in seeds:
            host, port = split_host_port(seed)
            C.check(host in effective and port == int(effective[host]["CLUSTER_PORT"]),
                    f"compose service {n}: seed {seed} is a node service's cluster port")
    for key in ("CLUSTER_SECRET", "CLUSTER_TLS", "APP_ENV"):
        vals = {n: s[key] for n, s in effective.items()}
        C.check(len(set(vals.values())) <= 1, f"every node service has the same {key}")
    roles = {n: s["NODE_ROLE"] for n, s in effective.items()}
    for n, svc in nodes.items():
        if roles.get(n) == "worker":
            C.check("worker" in (svc.get("profiles") or []),
                    f"worker service {n} is in profile worker")
    C.check(any(r in ("both", "worker") for r in roles.values()),
            "some node service owns wallets (role both or worker)")

    # Profiles, postgres.
    pg = services.get("postgres", {})
    C.check("pg_isready" in " ".join(map(str, (pg.get("healthcheck") or {}).get("test", []))),
            "postgres has a pg_isready healthcheck")
    C.check(any("/var/lib/postgresql/data" in str(v) for v in pg.get("volumes", [])),
            "postgres keeps its data in a volume")
    replica = [n for n, s in services.items() if "replica" in (s.get("profiles") or [])]
    if replica:
        text = open(example).read()
        C.check(any(f"@{r}:" in text for r in replica),
                ".env.example shows KLERNO_DATABASE_READ_URLS for the replica profile")

    # nginx: upstream servers are the API-serving node services on PORT, re-resolved.
    ngx = services.get("nginx")
    if C.check(ngx is not None, "an nginx service balances the nodes"):
        conf = None
        for v in ngx.get("volumes", []):
            src = str(v).split(":")[0]
            if src.endswith(".conf"):
                conf = os.path.normpath(os.path.join(cdir, src))
        if C.check(conf is not None and os.path.exists(conf), "nginx mounts a config file"):
            text = open(conf).read()
            servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)([^;]*);", text, re.M)
            api = {n for n, r in roles.items() if r != "worker"}
            names = {s[0] for s in servers}
            C.check(names == api, f"nginx upstream lists the API node services {sorted(api)} "
                                  f"(found {sorted(names)})")
            for host, port, params in servers:
                if host in effective:
                    C.check(port == effective[host]["PORT"], f"nginx: {host}:{port} is PORT")
                C.check("resolve" in params.split(), f"nginx: server {host} is re-resolved "
                                                     "(`resolve`: scaled replicas are found)")
            C.check(re.search(r"^\s*resolver\s+127\.0\.0\.11\b", text, re.M) is not None,
                    "nginx resolves through Docker's DNS (127.0.0.11)")
            C.check(re.search(r"^\s*zone\s+\S+", text, re.M) is not None,
                    "nginx upstream has a shared zone (needed by `resolve`)")
            tag = str(ngx.get("image", "")).partition(":")[2]
            ver = tuple(int(x) for x in re.findall(r"\d+", tag)[:3]) if tag else ()
            C.check(ver >= (1, 27, 3),
                    f"nginx image {ngx.get('image')} supports `server ... resolve` (>= 1.27.3)")


# --------------------------------------------------------------------------------------------
# deploy/k8s


def labels_match(selector, labels):
    if not selector:
        return False
    ml = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    if "matchExpressions" in (selector or {}):
        return False
    return all(labels.get(k) == v for k, v in ml.items())


def merge_patch(target, patch):
    """A strategic-merge subset: maps merge, lists of named items merge by name, other lists
    and values replace."""
    for k, v in patch.items():
        if k == "metadata" and isinstance(v, dict):
            continue
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            merge_patch(target[k], v)
        elif (isinstance(v, list) and isinstance(target.get(k), list)
              and all(isinstance(i, dict) and "name" in i for i in v)):
            by_name = {i.get("name"): i for i in target[k] if isinstance(i, dict)}
            for item in v:
                if item["name"] in by_name:
                    merge_patch(by_name[item["name"]], item)
                else:
                    target[k].insert(0, item)
        else:
            target[k] = v


def builtin_render(kdir, components):
    """Renders a kustomization and components without kubectl (resources, patches with a name
    or a labelSelector target, namespace)."""
    def load(dirpath):
        return load_yaml_file(os.path.join(dirpath, "kustomization.yaml"))[0]

    base = load(kdir)
    objs = []
    for r in base.get("resources", []):
        objs.extend(load_yaml_file(os.path.join(kdir, r)))
    for comp in components:
        cdir = os.path.join(kdir, "components", comp)
        k = load(cdir)
        for r in k.get("resources", []):
            objs.extend(load_yaml_file(os.path.join(cdir, r)))
        for p in k.get("patches", []):
            patch = load_yaml_file(os.path.join(cdir, p["path"]))[0]
            tgt = p.get("target")
            for o in objs:
                if o.get("kind") != patch.get("kind"):
                    continue
                if tgt and "labelSelector" in tgt:
                    want = dict(x.split("=", 1) for x in tgt["labelSelector"].split(","))
                    if not labels_match({"matchLabels": want}, o["metadata"].get("labels", {})):
                        continue
                elif o["metadata"]["name"] != patch["metadata"]["name"]:
                    continue
                merge_patch(o, patch)
    ns = base.get("namespace")
    for o in objs:
        if ns and o.get("kind") != "Namespace":
            o["metadata"]["namespace"] = ns
    return objs


def kubectl_render(kdir, components, kubectl):
    if not components:
        target = kdir
        tmp = None
    else:
        tmp = tempfile.mkdtemp(prefix="klerno-kustomize-")
        rel = os.path.relpath(kdir, tmp)
        k = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
             "resources": [rel],
             "components": [os.path.join(rel, "components", c) for c in components]}
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            yaml.safe_dump(k, f)
        target = tmp
    try:
        r = subprocess.run([kubectl, "kustomize", target], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            C.check(False, f"kubectl kustomize with components {components} failed: "
                           f"{r.stderr.strip()}")
            return None
        return [d for d in yaml.safe_load_all(r.stdout) if d is not None]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def usable_kubectl():
    """kubectl, when it is on PATH and its kustomize knows components (kustomize v4 and later,
    kubectl 1.21 and later); else None and the reason."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None, "kubectl not found"
    try:
        r = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                           text=True, timeout=30)
        m = re.search(r'"kustomizeVersion":\s*"v?(\d+)', r.stdout)
    except (OSError, subprocess.TimeoutExpired):
        m = None
    if not m or int(m.group(1)) < 4:
        return None, "kubectl's kustomize is older than v4 (no components)"
    return kubectl, ""


def container_of(workload):
    cs = workload["spec"]["template"]["spec"].get("containers", [])
    for c in cs:
        if "klerno-node" in str(c.get("image", "")):
            return c
    return None


def check_k8s_files(root, node):
    """Raw files: every YAML parses; names of the kustomizations exist; templates."""
    C.begin("deploy/k8s files")
    kdir = os.path.join(root, "deploy/k8s")
    if not C.check(os.path.isdir(kdir), "deploy/k8s exists"):
        return None
    docs = {}
    for dirpath, _, files in os.walk(kdir):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                p = os.path.join(dirpath, f)
                try:
                    docs[os.path.relpath(p, kdir)] = load_yaml_file(p)
                    C.check(True, "parses")
                except yaml.YAMLError as e:
                    C.check(False, f"{os.path.relpath(p, root)} does not parse: {e}")
    referenced = set()
    for rel, ds in docs.items():
        if os.path.basename(rel) != "kustomization.yaml":
            continue
        k = ds[0]
        d = os.path.dirname(rel)
        for r in k.get("resources", []) + [p.get("path") for p in k.get("patches", [])
                                          if isinstance(p, dict) and p.get("path")]:
            ref = os.path.normpath(os.path.join(d, r))
            C.check(ref in docs or os.path.isdir(os.path.join(kdir, ref)),
                    f"{rel}: {r} exists")
            referenced.add(ref)
    for rel, ds in docs.items():
        if os.path.basename(rel) == "kustomization.yaml":
            continue
        for d in ds:
            C.check("apiVersion" in d and "kind" in d and "name" in d.get("metadata", {}),
                    f"{rel}: every document has apiVersion, kind and metadata.name")
        if rel not in referenced:
            print(f"   ({rel} is not a kustomize resource: a template or example)")

    # The Secret template: keys are settings, values are placeholders.
    secret = None
    for rel, ds in docs.items():
        for d in ds:
            if d.get("kind") == "Secret":
                secret = d
                C.check(rel not in referenced, f"{rel}: the Secret template is not a kustomize "
                                               "resource (apply -k must not overwrite secrets)")
                data = {**(d.get("stringData") or {}), **(d.get("data") or {})}
                check_env_names(data, node, f"{rel}")
                for k, v in data.items():
                    C.check(v in ("", None) or "CHANGE-ME" in str(v),
                            f"{rel}: {k} holds a placeholder (CHANGE-ME), not a secret")
    C.check(secret is not None, "a Secret template exists")
    # Every env name in any k8s file (patches included) is a setting.
    for rel, ds in docs.items():
        for d in ds:
            for c in (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                    "containers", []) or []:
                check_env_names([e["name"] for e in c.get("env", []) or []], node, rel)
            if d.get("kind") == "ConfigMap":
                check_env_names(d.get("data", {}) or {}, node, f"{rel} ConfigMap")
    # The Ingress example routes to a Service of the base.
    return {"docs": docs, "secret": secret}


def check_k8s_render(objs, node, files, label):
    C.begin(f"deploy/k8s rendered: {label}")
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    cms = {o["metadata"]["name"]: o for o in by_kind.get("ConfigMap", [])}
    svcs = {o["metadata"]["name"]: o for o in by_kind.get("Service", [])}
    secret = files["secret"] or {}
    secret_name = secret.get("metadata", {}).get("name")
    secret_keys = set((secret.get("stringData") or {})) | set((secret.get("data") or {}))
    workloads = [o for o in by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
                 if container_of(o) is not None]
    C.check(bool(workloads), "a StatefulSet or Deployment runs klerno-node")
    namespaces = {o["metadata"].get("namespace") for o in objs if o["kind"] != "Namespace"}
    C.check(len(namespaces) == 1, f"every object is in one namespace ({namespaces})")

    eff = {}
    pods = []  # (workload name, pod name, settings)
    for w in workloads:
        name = w["metadata"]["name"]
        podspec = w["spec"]["template"]["spec"]
        podlabels = w["spec"]["template"]["metadata"].get("labels", {})
        c = container_of(w)
        env = {}
        for ef in c.get("envFrom", []) or []:
            if "configMapRef" in ef:
                cm = cms.get(ef["configMapRef"]["name"])
                if C.check(cm is not None, f"{name}: ConfigMap {ef['configMapRef']['name']} "
                                           "exists"):
                    env.update({k: str(v) for k, v in (cm.get("data") or {}).items()})
            if "secretRef" in ef:
                C.check(ef["secretRef"]["name"] == secret_name,
                        f"{name}: envFrom Secret is the template's")
                env.update({k: TEST_SECRETS.get(k, "x" * 32) for k in secret_keys})
        field_refs = {}
        for e in c.get("env", []) or []:
            n = e["name"]
            if "value" in e:
                env[n] = str(e["value"])
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "fieldRef" in vf:
                    field_refs[n] = vf["fieldRef"]["fieldPath"]
                    env[n] = {"status.podIP": TEST_POD_IP}.get(vf["fieldRef"]["fieldPath"], "")
                elif "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    C.check(ref["name"] == secret_name and (ref["key"] in secret_keys
                                                            or ref.get("optional")),
                            f"{name}: {n} comes from key {ref['key']} of the Secret template "
                            f"{secret_name}")
                    env[n] = TEST_SECRETS.get(ref["key"], "x" * 32)
                elif "configMapKeyRef" in vf:
                    cm = cms.get(vf["configMapKeyRef"]["name"], {})
                    env[n] = str((cm.get("data") or {}).get(vf["configMapKeyRef"]["key"], ""))
        check_env_names(env, node, f"{name}")
        C.check(field_refs.get("NODE_NAME") == "metadata.name",
                f"{name}: NODE_NAME comes from metadata.name")
        C.check(field_refs.get("CLUSTER_ADVERTISE_HOST") == "status.podIP",
                f"{name}: CLUSTER_ADVERTISE_HOST comes from status.podIP")
        C.check("CLUSTER_BOOTSTRAP" not in env,
                f"{name}: CLUSTER_BOOTSTRAP is not set directly (the entrypoint decides from "
                "KLERNO_BOOTSTRAP_HOST)")

        ordinals = [0, 1, 2] if w["kind"] == "StatefulSet" else ["7f9c4d-abcde"]
        settings = None
        for o in ordinals:
            pod = f"{name}-{o}"
            pod_env = dict(env)
            if field_refs.get("NODE_NAME") == "metadata.name":
                pod_env["NODE_NAME"] = pod
            s = node.print_config(simulate_entrypoint(pod_env, pod))
            if not C.check(s is not None, f"{name}: klerno-node refuses pod {pod}'s environment: "
                                          f"{node.last_error}"):
                continue
            pods.append((name, pod, s))
            if o == ordinals[-1]:
                settings = s
        if settings is None:
            continue
        eff[name] = settings

        budget = shutdown_budget(settings)
        tgp = podspec.get("terminationGracePeriodSeconds", 30)
        C.check(tgp > budget, f"{name}: terminationGracePeriodSeconds {tgp} above the shutdown "
                              f"budget {budget:g} s (SHUTDOWN_GRACE + SHUTDOWN_DRAIN_TIMEOUT + "
                              "2 x SHUTDOWN_STOP_TIMEOUT + 5 s)")
        C.check(settings["CLUSTER_BIND_ADDRESS"] in ("0.0.0.0", "::"),
                f"{name}: CLUSTER_BIND_ADDRESS binds all interfaces")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        C.check(int(settings["PORT"]) in ports.values(), f"{name}: container port PORT")
        C.check(int(settings["CLUSTER_PORT"]) in ports.values(),
                f"{name}: container port CLUSTER_PORT")
        for probe, path in (("startupProbe", "/startup"), ("readinessProbe", "/readiness"),
                            ("livenessProbe", "/liveness")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            port = get.get("port")
            port = ports.get(port, port)
            C.check(get.get("path") == path and str(port) == settings["PORT"],
                    f"{name}: {probe} asks {path} on PORT")
        sc_pod = podspec.get("securityContext") or {}
        sc = c.get("securityContext") or {}
        C.check(sc.get("runAsNonRoot", sc_pod.get("runAsNonRoot")) is True,
                f"{name}: runAsNonRoot")
        C.check(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
        C.check(sc.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")
        C.check("ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
                f"{name}: drops all capabilities")
        C.check(bool((c.get("resources") or {}).get("requests")),
                f"{name}: resource requests (the HPA's utilization is relative to them)")

        # Seeds and the headless service.
        if w["kind"] == "StatefulSet":
            gov = svcs.get(w["spec"].get("serviceName"))
            C.check(gov is not None and gov["spec"].get("clusterIP") == "None",
                    f"{name}: serviceName is a headless Service")
        seeds = [x for x in settings["CLUSTER_SEEDS"].split(",") if x]
        C.check(bool(seeds), f"{name}: CLUSTER_SEEDS is set (pods other than the bootstrap one)")
        for seed in seeds:
            host, port = split_host_port(seed)
            parts = host.split(".")
            svc = svcs.get(parts[0])
            ns = svc["metadata"].get("namespace") if svc else None
            forms = {parts[0]} | ({f"{parts[0]}.{ns}", f"{parts[0]}.{ns}.svc",
                                   f"{parts[0]}.{ns}.svc.cluster.local"} if ns else set())
            ok = (svc is not None and host in forms)
            C.check(ok, f"{name}: seed {seed} names a Service of this namespace")
            if not ok:
                continue
            spec = svc["spec"]
            C.check(spec.get("clusterIP") == "None",
                    f"{name}: seed Service {parts[0]} is headless (resolves to every pod)")
            C.check(spec.get("publishNotReadyAddresses") is True,
                    f"{name}: seed Service {parts[0]} publishes not-ready addresses (joining "
                    "pods are not ready)")
            C.check(port in [p.get("port") for p in spec.get("ports", [])]
                    and port == int(settings["CLUSTER_PORT"]),
                    f"{name}: seed port {port} is the Service's and CLUSTER_PORT")
            C.check(labels_match({"matchLabels": spec.get("selector", {})}, podlabels),
                    f"{name}: seed Service {parts[0]} selects this workload's pods")

    # Exactly one bootstrap pod, without seeds.
    boot = [(w, p, s) for w, p, s in pods if truthy(s["CLUSTER_BOOTSTRAP"])]
    C.check(len(boot) == 1, "exactly one pod gets CLUSTER_BOOTSTRAP=true "
                            f"({[p for _, p, _ in boot]})")
    for w, p, s in boot:
        C.check(p.endswith("-0") and any(x["kind"] == "StatefulSet" and
                                         x["metadata"]["name"] == w for x in workloads),
                f"the bootstrap pod {p} is ordinal 0 of a StatefulSet (stable name)")
        C.check(s["CLUSTER_SEEDS"] == "", f"the bootstrap pod {p} has no CLUSTER_SEEDS (it "
                                          "joins through the membership table)")
    for key in ("CLUSTER_TLS", "CLUSTER_SECRET", "APP_ENV", "CLUSTER_PORT"):
        vals = {s[key] for s in eff.values()}
        C.check(len(vals) <= 1, f"every workload has the same {key} ({sorted(vals)})")
    roles = {n: s["NODE_ROLE"] for n, s in eff.items()}
    C.check(any(r in ("both", "worker") for r in roles.values()),
            f"some workload owns wallets (roles {roles})")

    # The API Service selects the pods that serve the API, and no worker.
    api = svcs.get("klerno")
    if C.check(api is not None, "Service klerno exists"):
        for w in workloads:
            n = w["metadata"]["name"]
            sel = labels_match({"matchLabels": api["spec"].get("selector", {})},
                               w["spec"]["template"]["metadata"].get("labels", {}))
            if n in roles:
                C.check(sel == (roles[n] != "worker"),
                        f"Service klerno selects {n} only if it serves the API (role {roles[n]})")
        C.check(api["spec"].get("clusterIP") != "None", "Service klerno is not headless")

    # HPA: matches the autoscaling settings of its target.
    for h in by_kind.get("HorizontalPodAutoscaler", []):
        ref = h["spec"]["scaleTargetRef"]
        target = next((w for w in workloads if w["kind"] == ref["kind"]
                       and w["metadata"]["name"] == ref["name"]), None)
        if not C.check(target is not None, f"HPA {h['metadata']['name']} targets a workload"):
            continue
        s = eff.get(ref["name"])
        if not s:
            continue
        C.check("replicas" not in target["spec"],
                f"{ref['name']}: spec.replicas left to the HPA (apply would reset it)")
        C.check(h["spec"].get("minReplicas") == int(s["MIN_REPLICAS"])
                and h["spec"].get("maxReplicas") == int(s["MAX_REPLICAS"]),
                f"HPA {h['metadata']['name']}: min/max equal MIN_REPLICAS/MAX_REPLICAS")
        targets = {m["resource"]["name"]: m["resource"]["target"].get("averageUtilization")
                   for m in h["spec"].get("metrics", []) if m.get("type") == "Resource"}
        C.check(targets.get("cpu") == int(s["TARGET_CPU_UTILIZATION"])
                and targets.get("memory") == int(s["TARGET_MEMORY_UTILIZATION"]),
                f"HPA {h['metadata']['name']}: cpu/memory targets equal TARGET_*_UTILIZATION")

    # PDB: a majority of each workload's pods survives voluntary disruptions.
    pdbs = by_kind.get("PodDisruptionBudget", [])
    for w in workloads:
        labels = w["spec"]["template"]["metadata"].get("labels", {})
        mine = [p for p in pdbs if labels_match(p["spec"].get("selector"), labels)]
        if not C.check(len(mine) == 1, f"{w['metadata']['name']}: one PodDisruptionBudget"):
            continue
        ma = str(mine[0]["spec"].get("minAvailable", ""))
        C.check(ma.endswith("%") and int(ma[:-1]) > 50,
                f"{w['metadata']['name']}: PDB minAvailable keeps a majority (> 50 %, got {ma})")

    # NetworkPolicy: the cluster port only from members.
    members = [w["spec"]["template"]["metadata"].get("labels", {}) for w in workloads]
    cport = int(next(iter(eff.values()))["CLUSTER_PORT"]) if eff else 4370
    for lbl in members:
        pols = [p for p in by_kind.get("NetworkPolicy", [])
                if labels_match(p["spec"].get("podSelector"), lbl)
                and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
        if not C.check(bool(pols), f"a NetworkPolicy selects the pods {lbl}"):
            continue
        allowed_cluster = False
        for p in pols:
            for rule in p["spec"].get("ingress", []) or []:
                rports = [x.get("port") for x in rule.get("ports", []) or []]
                opens = not rports or cport in rports
                if not opens:
                    continue
                froms = rule.get("from")
                only_members = bool(froms) and all(
                    set(f) == {"podSelector"} and all(
                        labels_match(f["podSelector"], m) for m in members) for f in froms)
                C.check(only_members, f"NetworkPolicy {p['metadata']['name']}: a rule that "
                                      f"opens the cluster port {cport} admits cluster members "
                                      "only")
                allowed_cluster = allowed_cluster or only_members
        C.check(allowed_cluster, f"the members' cluster port {cport} is open to the members")

    # The Ingress example and Services point at existing ports.
    for rel, ds in files["docs"].items():
        for d in ds:
            if d.get("kind") != "Ingress":
                continue
            for rule in d["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    b = path["backend"]["service"]
                    svc = svcs.get(b["name"])
                    ok = svc is not None and (b["port"].get("name") in
                                              [p.get("name") for p in svc["spec"]["ports"]]
                                              or b["port"].get("number") in
                                              [p.get("port") for p in svc["spec"]["ports"]])
                    C.check(ok, f"{rel}: backend {b['name']}:{b['port']} is a Service port")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--node", help="klerno-node binary (default: build/release/node/klerno-node)")
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "../..")), help="repository root")
    ap.add_argument("--no-kubectl", action="store_true",
                    help="render with the built-in merge even when kubectl is on PATH")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    path = a.node or os.path.join(root, "build/release/node/klerno-node")
    if not os.access(path, os.X_OK):
        sys.exit(f"error: no klerno-node binary at {path} (pass --node)")
    node = Node(path)
    print(f"klerno-node: {path} ({len(node.keys)} settings)")

    check_docker(root, node)
    check_compose(root, node)
    files = check_k8s_files(root, node)
    if files is not None:
        kdir = os.path.join(root, "deploy/k8s")
        comps = [c for c in COMPONENT_ORDER if os.path.isdir(os.path.join(kdir, "components", c))]
        others = sorted(set(os.listdir(os.path.join(kdir, "components"))) - set(comps)) \
            if os.path.isdir(os.path.join(kdir, "components")) else []
        comps += others
        combos = [[]] + [comps[:i] for i in range(1, len(comps) + 1)]
        if "workers" in comps and "cluster-tls" in comps:
            combos.append(["cluster-tls"])
        combos = [c for c in combos if "edge" not in c or "workers" in c]
        kubectl, why = None, "--no-kubectl"
        if not a.no_kubectl:
            kubectl, why = usable_kubectl()
        how = "kubectl kustomize" if kubectl else f"built-in merge ({why})"
        for combo in combos:
            objs = kubectl_render(kdir, combo, kubectl) if kubectl else builtin_render(kdir, combo)
            if objs is not None:
                check_k8s_render(objs, node, files,
                                 f"{'base + ' + ', '.join(combo) if combo else 'base'} ({how})")

    print()
    if C.failures:
        print(f"{len(C.failures)} of {C.passed + len(C.failures)} checks failed:")
        for f in C.failures:
            print(f"  {f}")
        return 1
    print(f"all {C.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
