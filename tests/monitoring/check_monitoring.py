#!/usr/bin/env python3
"""Checks of deploy/monitoring: the Prometheus rules, configs and Grafana dashboards.

Subcommands (each one CTest test, see CMakeLists.txt):
  check-rules     promtool check rules on the alert and recording rules
  test-rules      promtool test rules: the unit tests of every alert
  check-config    promtool check config on the Kubernetes example and the rendered local template
  rules-coverage  every alert has a runbook annotation and a unit test case in which it fires
  live-names      a real klerno-node (PostgreSQL, Redis, cluster bootstrap) is exercised; every
                  metric name in the dashboards and the rules must be on its /metrics, which must
                  pass `promtool check metrics`

Exit 77 (CTest: skipped) when promtool or PyYAML is missing.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

SKIP = 77

try:
    import yaml
except ImportError:
    print("SKIP: PyYAML (Debian: python3-yaml) is not installed")
    sys.exit(SKIP)


class Failure(Exception):
    pass


def promtool():
    path = shutil.which("promtool")
    if path is None:
        print("SKIP: promtool (Debian: prometheus) is not installed")
        sys.exit(SKIP)
    return path


def run(cmd, stdin=None, cwd=None):
    proc = subprocess.run(cmd, input=stdin, cwd=cwd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def require_ok(cmd, cwd=None, stdin=None):
    code, out = run(cmd, stdin=stdin, cwd=cwd)
    print("$ " + " ".join(cmd) + "\n" + out)
    if code != 0:
        raise Failure(f"{' '.join(cmd)} exited {code}")


def monitoring_dir(root):
    return os.path.join(os.path.abspath(root), "deploy", "monitoring")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def rules_file(root):
    return os.path.join(monitoring_dir(root), "rules", "klerno.rules.yml")


def all_rules(root):
    return [r for g in load_yaml(rules_file(root))["groups"] for r in g["rules"]]


# -- promtool ----------------------------------------------------------------------------------


def check_rules(args):
    require_ok([promtool(), "check", "rules", rules_file(args.root)])


def test_rules(args):
    rules_dir = os.path.join(monitoring_dir(args.root), "rules")
    require_ok([promtool(), "test", "rules", "klerno.rules.test.yml"], cwd=rules_dir)


def supports_kubernetes_sd(tool, tmp):
    probe = os.path.join(tmp, "probe.yml")
    with open(probe, "w") as f:
        f.write("scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs: [{role: pod}]\n")
    code, _ = run([tool, "check", "config", probe])
    return code == 0


def check_kubernetes_sd(sd_configs):
    """The fields that upstream Prometheus accepts in the example's kubernetes_sd_configs."""
    if not sd_configs:
        raise Failure("the Kubernetes example has no kubernetes_sd_configs")
    for sd in sd_configs:
        unknown = set(sd) - {"role", "namespaces", "selectors", "api_server", "kubeconfig_file"}
        if unknown:
            raise Failure(f"kubernetes_sd_configs: unknown fields {sorted(unknown)}")
        if sd.get("role") != "pod":
            raise Failure(f"kubernetes_sd_configs: role {sd.get('role')!r}, expected pod")
        names = sd.get("namespaces", {}).get("names", [])
        if not names or not all(isinstance(n, str) for n in names):
            raise Failure("kubernetes_sd_configs: namespaces.names must list namespaces")
        for sel in sd.get("selectors", []):
            if set(sel) - {"role", "label", "field"} or sel.get("role") != "pod":
                raise Failure(f"kubernetes_sd_configs: bad selector {sel}")


def check_config(args):
    tool = promtool()
    mon = monitoring_dir(args.root)
    example = os.path.join(mon, "prometheus.k8s.example.yml")
    with tempfile.TemporaryDirectory(prefix="klerno-mon-") as tmp:
        if supports_kubernetes_sd(tool, tmp):
            require_ok([tool, "check", "config", example], cwd=mon)
        else:
            # Debian builds Prometheus without Kubernetes service discovery: check the SD stanza's
            # fields here, and the rest (rule files, relabeling) with promtool, the stanza replaced
            # by an equivalent static target.
            print("promtool has no kubernetes_sd_configs (Debian build): checking that stanza's "
                  "fields here and the rest of the file with promtool")
            cfg = load_yaml(example)
            for job in cfg["scrape_configs"]:
                check_kubernetes_sd(job.pop("kubernetes_sd_configs", None))
                job["static_configs"] = [{"targets": ["127.0.0.1:8000"]}]
            cfg["rule_files"] = [os.path.join(mon, p) for p in cfg.get("rule_files", [])]
            copy = os.path.join(tmp, "prometheus.k8s.yml")
            with open(copy, "w") as f:
                yaml.safe_dump(cfg, f)
            require_ok([tool, "check", "config", copy])
        for job in load_yaml(example)["scrape_configs"]:
            targets = [r.get("target_label") for r in job.get("relabel_configs", [])]
            if "node" not in targets:
                raise Failure(f"job {job['job_name']}: no relabeling to a `node` label")

        template = os.path.join(mon, "prometheus.local.yml.template")
        if not os.path.exists(template):
            print(f"{template} does not exist: the local config is not checked")
            return
        with open(template, encoding="utf-8") as f:
            text = f.read()
        targets = "".join(
            f'      - targets: ["127.0.0.1:{8001 + i}"]\n        labels: {{node: node{i + 1}}}\n'
            for i in range(3))
        text = text.replace("@RULES_DIR@", os.path.join(mon, "rules"))
        text = re.sub(r"^[ \t]*@TARGETS@[ \t]*\n?", targets, text, flags=re.M)
        rendered = os.path.join(tmp, "prometheus.local.yml")
        with open(rendered, "w") as f:
            f.write(text)
        print(text)
        require_ok([tool, "check", "config", rendered])
        # The glob must load the alert rules (a glob that matches nothing is valid too).
        code, out = run([tool, "check", "config", rendered])
        if "klerno.rules.yml" not in out:
            raise Failure("the rendered local config does not load rules/klerno.rules.yml")


# -- rules coverage ---------------------------------------------------------------------------


def rules_coverage(args):
    rules = all_rules(args.root)
    alerts = [r for r in rules if "alert" in r]
    if not alerts:
        raise Failure("no alerts in klerno.rules.yml")
    tests = load_yaml(os.path.join(monitoring_dir(args.root), "rules", "klerno.rules.test.yml"))
    fired, silent = set(), set()
    for case in tests["tests"]:
        for t in case.get("alert_rule_test", []):
            (fired if t.get("exp_alerts") else silent).add(t["alertname"])
    problems = []
    for a in alerts:
        name = a["alert"]
        ann = a.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            if not str(ann.get(key, "")).strip():
                problems.append(f"{name}: no {key} annotation")
        if "\n" in str(ann.get("runbook", "")).strip():
            problems.append(f"{name}: the runbook annotation is not one line")
        if a.get("labels", {}).get("severity") not in ("warning", "critical"):
            problems.append(f"{name}: severity label must be warning or critical")
        if not a.get("for"):
            problems.append(f"{name}: no `for:` duration")
        if name not in fired:
            problems.append(f"{name}: no unit test case in which it fires")
        if name not in silent:
            problems.append(f"{name}: no unit test case in which it stays silent")
    known = {a["alert"] for a in alerts}
    for name in sorted((fired | silent) - known):
        problems.append(f"the unit tests name an alert that does not exist: {name}")
    if problems:
        raise Failure("\n".join(problems))
    print(f"{len(alerts)} alerts, each with a runbook and firing and silent test cases")


# -- metric names --------------------------------------------------------------------------------

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and",
    "or", "unless", "inf", "nan", "sum", "min", "max", "avg", "count", "stddev", "stdvar",
    "topk", "bottomk", "quantile", "count_values", "group",
}


def metric_names(expr):
    """Metric names an expression selects (PromQL without a parser: strings, label matchers,
    grouping clauses, ranges, Grafana variables and function calls are removed first)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def dashboard_exprs(root):
    """(where, expr) of every panel target and templating query; checks the JSON's shape."""
    ddir = os.path.join(monitoring_dir(root), "grafana", "dashboards")
    files = sorted(f for f in os.listdir(ddir) if f.endswith(".json"))
    if not files:
        raise Failure(f"no dashboards in {ddir}")
    exprs, problems, uids = [], [], set()
    for fname in files:
        with open(os.path.join(ddir, fname), encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                problems.append(f"{fname}: not JSON: {e}")
                continue
        for key in ("uid", "title", "panels"):
            if not d.get(key):
                problems.append(f"{fname}: no {key}")
        if d.get("uid") in uids:
            problems.append(f"{fname}: uid {d.get('uid')} used twice")
        uids.add(d.get("uid"))
        panels = [p for p in d.get("panels", []) if p.get("type") != "row"]
        if not panels:
            problems.append(f"{fname}: no panels besides rows")
        for p in panels:
            where = f"{fname}: panel {p.get('title')!r}"
            if p.get("type") not in ("timeseries", "stat"):
                problems.append(f"{where}: type {p.get('type')!r}")
            if (p.get("datasource") or {}).get("uid") != "prometheus":
                problems.append(f"{where}: datasource is not uid prometheus")
            if not p.get("targets"):
                problems.append(f"{where}: no targets")
            for t in p.get("targets", []):
                if not str(t.get("expr", "")).strip():
                    problems.append(f"{where}: a target without expr")
                else:
                    exprs.append((where, t["expr"]))
        for v in d.get("templating", {}).get("list", []):
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", q or "")
            if m:
                exprs.append((f"{fname}: variable {v.get('name')}", m.group(1)))
    if problems:
        raise Failure("\n".join(problems))
    return exprs


class Node:
    """A klerno-node on loopback, with a database of its own and a Redis key prefix of its own."""

    def __init__(self, binary, pg_script, pg_env, redis_env, workdir):
        self.pg_script, self.pg_dir = pg_script, pg_env["PG_DIR"]
        self.db = "kt_mon_" + uuid.uuid4().hex[:12]
        self.proc = None
        self.workdir = workdir
        require_ok([pg_script, "psql", self.pg_dir, "-X", "-Atc", f"CREATE DATABASE {self.db}"])
        url = re.sub(r"(postgresql://[^/]+/)[^?]*", r"\g<1>" + self.db, pg_env["DATABASE_URL"])
        self.ports_file = os.path.join(workdir, "ports.json")
        env = dict(os.environ)
        env.update({
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "PORTS_FILE": self.ports_file,
            "API_KEY": "monitoring-test-key", "WORKERS": "2", "ACTOR_THREADS": "2",
            "SHUTDOWN_GRACE": "0s", "DATABASE_URL": url, "HEALTH_CHECK_INTERVAL": "200ms",
            "REDIS_URL": redis_env["REDIS_URL"], "REDIS_KEY_PREFIX": self.db + ":",
            "CLUSTER_BOOTSTRAP": "true", "CLUSTER_SECRET": "monitoring-test-cluster-secret",
            "CLUSTER_PORT": "0", "CLUSTER_BIND_ADDRESS": "127.0.0.1", "NODE_NAME": "mon1",
            "RATE_LIMIT_ENABLED": "true",
        })
        self.log = open(os.path.join(workdir, "node.log"), "w")
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, deadline_s=60):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise Failure(f"klerno-node exited {self.proc.returncode}")
            if os.path.exists(self.ports_file):
                try:
                    with open(self.ports_file) as f:
                        self.port = json.load(f)["http"]
                    if self.request("GET", "/readiness")[0] == 200:
                        return
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.1)
        raise Failure("klerno-node did not become ready")

    def request(self, method, path, body=None):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-API-Key": "monitoring-test-key", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        run([self.pg_script, "psql", self.pg_dir, "-X", "-Atc",
             f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)"])


def read_env_file(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        raise Failure(f"{var} is not set or names no file (run with the CTest fixture)")
    env = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env[k] = v
    return env


def exported_names(text):
    """Sample names and family names of a Prometheus text exposition (with the _bucket, _sum
    and _count series of histogram families, also when a family has no sample yet)."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) in ("histogram", "summary"):
                names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.match(r"[^{\s]+", line).group(0))
    return names


def registry_names(detailed):
    """Families registered in the node (the JSON of /metrics-detailed), with their histogram
    series: families that count rare events (refused peers, cache bypasses) have no series on
    /metrics until the first event, yet are the node's metrics."""
    names = set()
    for name, fam in json.loads(detailed)["metrics"].items():
        names.add(name)
        if fam.get("type") in ("histogram", "summary"):
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


def live_names(args):
    tool = promtool()
    exprs = dashboard_exprs(args.root)
    rules = all_rules(args.root)
    recorded = {r["record"] for r in rules if "record" in r}
    exprs += [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for r in rules]
    pg_env, redis_env = read_env_file("KLERNO_PG_ENV_FILE"), read_env_file("KLERNO_REDIS_ENV_FILE")
    with tempfile.TemporaryDirectory(prefix="klerno-mon-") as tmp:
        node = Node(args.node, args.pg_script, pg_env, redis_env, tmp)
        try:
            node.wait_ready()
            tx = {"tx_id": "mon-" + uuid.uuid4().hex, "from_addr": "rMonitoringFrom",
                  "to_addr": "rMonitoringTo", "amount": "1500", "direction": "out",
                  "symbol": "XRP", "memo": "monitoring test"}
            status, body = node.request("POST", "/transactions", tx)
            if status != 201:
                raise Failure(f"POST /transactions answered {status}: {body}")
            for path in (f"/transactions/{tx['tx_id']}", f"/transactions/{tx['tx_id']}",
                         "/transactions?wallet=rMonitoringFrom", "/alerts",
                         "/cluster/members"):
                status, body = node.request("GET", path)
                if status != 200:
                    raise Failure(f"GET {path} answered {status}: {body}")
            status, body = node.request("POST", "/auth/session")
            if status != 201:
                raise Failure(f"POST /auth/session answered {status}: {body}")
            if node.request("GET", "/no-such-route")[0] != 404:
                raise Failure("GET /no-such-route did not answer 404")
            status, metrics = node.request("GET", "/metrics")
            if status != 200:
                raise Failure(f"GET /metrics answered {status}")
            status, detailed = node.request("GET", "/metrics-detailed")
            if status != 200:
                raise Failure(f"GET /metrics-detailed answered {status}")
        finally:
            node.stop()
            with open(os.path.join(tmp, "node.log")) as f:
                log = f.read()
        on_page = exported_names(metrics)
        exported = on_page | registry_names(detailed) | {"up"} | recorded
        missing, no_series = {}, set()
        for where, expr in exprs:
            used = metric_names(expr)
            no_series |= used - on_page - {"up"} - recorded
            for name in sorted(used - exported):
                missing.setdefault(name, []).append(where)
        print(f"{len(exprs)} expressions checked against {len(exported)} exported names")
        if no_series - set(missing):
            print("registered but without a series on /metrics yet (no such event in this run): "
                  + ", ".join(sorted(no_series - set(missing))))
        code, out = run([tool, "check", "metrics"], stdin=metrics)
        print(f"$ promtool check metrics < /metrics (exit {code})\n{out}")
        problems = [f"{n} is not exported by klerno-node; used in: {'; '.join(w)}"
                    for n, w in sorted(missing.items())]
        if code != 0:
            problems.append(f"promtool check metrics exited {code}: {out.strip()}")
        if problems:
            print("node log (tail):\n" + log[-3000:])
            raise Failure("\n".join(problems))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["check-rules", "test-rules", "check-config",
                                       "rules-coverage", "live-names"])
    p.add_argument("--root", required=True, help="the repository")
    p.add_argument("--node", help="the klerno-node binary (live-names)")
    p.add_argument("--pg-script", help="scripts/pg (live-names)")
    args = p.parse_args()
    try:
        {"check-rules": check_rules, "test-rules": test_rules, "check-config": check_config,
         "rules-coverage": rules_coverage, "live-names": live_names}[args.command](args)
    except Failure as e:
        print(f"FAILED: {e}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
