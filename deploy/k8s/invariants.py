#!/usr/bin/env python3
"""Checks what a schema cannot: the rendered overlay (kustomize build output) fits pagos.

usage: invariants.py single|ha RENDERED.yaml
       invariants.py secret base/secret.example.yaml
       invariants.py storefronts base/storefronts.example.yaml
       invariants.py builtin RENDERED.yaml
Prints one line per broken rule and exits 1 if any; silent and 0 when all hold.

"builtin" prints RENDERED without the custom resources (CRDs) this file validates itself
(CUSTOM_SCHEMAS), for kubernetes-validate, which knows only Kubernetes's own kinds.
"""
import ipaddress
import math
import re
import sys

import jsonschema  # installed with kubernetes-validate (check.sh puts it on PYTHONPATH)
import yaml

SETTINGS = {  # non-secret settings and their defaults (the interface's configuration table)
    "PAGOS__SERVER__HOST": "0.0.0.0",
    "PAGOS__SERVER__PORT": "8080",
    "PAGOS__CONEKTA__API_URL": "https://api.conekta.io",
    "PAGOS__CONEKTA__TIMEOUT_MS": "10000",
    "PAGOS__CONEKTA__DEFAULT_PHONE": "+5215555555555",
    "PAGOS__RELAY__RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h",
    "PAGOS__RELAY__TIMEOUT_MS": "15000",
    "PAGOS__RELAY__ALLOW_PRIVATE_TARGETS": "false",
    "RUST_LOG": "info",
}
SECRET_SETTINGS = {
    "PAGOS__RELAY__SIGNING_SECRET",
    "PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY",
    "PAGOS__DATABASE__URL",
    "PAGOS__ADMIN__TOKEN",
    "PAGOS__SERVER__API_KEYS",
    "PAGOS_CONFIG",
}
# SIGTERM: requests in flight finish (actix, up to 30 s), then deliveries in flight (up to 30 s).
REQUEST_DRAIN_SECONDS = 30
RELAY_DRAIN_SECONDS = 30
SECRET = "pagos-secrets"

# ---- resources: the arithmetic of deploy/README.md, "Resources" ------------------------------
# BENCHMARKS.md, "The target still missed": pagos spent 10.35 CPU-seconds on 97,198 creates.
CPU_US_PER_REQUEST = 10.35e6 / 97_198  # 106 us
BENCH_SPREAD = 1.2  # "the same binary's figures move by 10-20% between runs"
# Per replica at the HPA's target: the rate the latency target is stated at (p99 added <= 2 ms
# at 500 req/s, measured 1.19 ms).
DESIGN_REQUESTS_PER_SECOND = 500
IDLE_MILLICORES = 4.5  # no traffic, a scrape every 30 s: 4.4m measured (debug build, PostgreSQL)
HPA_CPU_TARGET = 0.70
# Memory: BENCHMARKS.md 2 and 5 (MiB: the harness divides /proc's kB by 1024).
IDLE_MIB = 13.1
PEAK_MIB_2000_WAITING = 125.4  # 2,000 creates waiting on a 300 ms Conekta
KIB_PER_WAITING_CREATE = (PEAK_MIB_2000_WAITING - IDLE_MIB) * 1024 / 2000  # 57.5 KiB
CONEKTA_TIMEOUT_S = 10  # PAGOS__CONEKTA__TIMEOUT_MS


def round_up(value, step):
    return int(math.ceil(value / step) * step)


def expected_resources():
    busy = DESIGN_REQUESTS_PER_SECOND * CPU_US_PER_REQUEST * BENCH_SPREAD / 1000  # millicores
    cpu = round_up((busy + IDLE_MILLICORES) / HPA_CPU_TARGET, 50)
    memory_request = round_up(PEAK_MIB_2000_WAITING, 64)
    waiting = DESIGN_REQUESTS_PER_SECOND * CONEKTA_TIMEOUT_S
    worst = IDLE_MIB + waiting * KIB_PER_WAITING_CREATE / 1024
    memory_limit = round_up(worst * BENCH_SPREAD, 128)
    return {"cpu": f"{cpu}m", "memory": f"{memory_request}Mi"}, {"cpu": "1", "memory": f"{memory_limit}Mi"}


# ---- startup: migrations run before the port is bound (Store::connect) -----------------------
STARTUP_BUDGET_MIN_SECONDS = 5 * 60

# ---- network ---------------------------------------------------------------------------------
# Every ipBlock that contains one of these must except it: the cloud metadata address and the
# cluster's private ranges (pods, Services, nodes).
NOT_INTERNET = [ipaddress.ip_network(n) for n in ("169.254.169.254/32", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
INTERNET_PORTS = {("TCP", 443), ("TCP", 80)}
DATABASE_PORT = ("TCP", 5432)
DNS_PORTS = {("UDP", 53), ("TCP", 53)}

# ---- custom resources kubernetes-validate has no schema for -----------------------------------
# A subset of the Prometheus Operator's ServiceMonitor CRD (monitoring.coreos.com/v1, operator
# 0.84: example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml), with the
# CRD's types, enums and patterns for the fields used here. Strict like kubernetes-validate
# --strict: a field outside the subset is an error (add it here, from the CRD, to use it).
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string"}, "labels": LABELS, "annotations": LABELS},
}
SERVICEMONITOR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA_SCHEMA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["endpoints", "selector"],
            "properties": {
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                },
                "selector": {"type": "object", "additionalProperties": False, "properties": {"matchLabels": LABELS}},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}
CUSTOM_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICEMONITOR_SCHEMA}


def seconds(duration: str) -> float:
    units = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|[ywdhms])", duration))


def print_builtin(path: str) -> int:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    builtin = [d for d in docs if (d.get("apiVersion"), d.get("kind")) not in CUSTOM_SCHEMAS]
    yaml.safe_dump_all(builtin, sys.stdout, sort_keys=False)
    return 0


def peer_ports(rule):
    return {(p.get("protocol", "TCP"), p.get("port")) for p in rule.get("ports", [])}


def egress_problems(policies) -> list:
    """Egress of every policy that selects the pods: no rule open to any address, the metadata
    address and private ranges outside every ipBlock, only web ports to the internet."""
    problems = []
    for policy in policies:
        name = policy["metadata"]["name"]
        for i, rule in enumerate(policy.get("spec", {}).get("egress", [])):
            where = f"NetworkPolicy {name} egress[{i}]"
            peers = rule.get("to")
            if not peers:
                problems.append(f"{where} has no 'to': it allows every address")
                continue
            if not rule.get("ports"):
                problems.append(f"{where} allows every port")
            for peer in peers:
                block = peer.get("ipBlock")
                if not block:
                    continue
                cidr = ipaddress.ip_network(block["cidr"])
                excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
                for net in NOT_INTERNET:
                    if net.version == cidr.version and net.subnet_of(cidr) and not any(net.subnet_of(e) for e in excepted):
                        problems.append(f"{where}: {cidr} does not except {net}")
                if cidr.prefixlen == 0 and not peer_ports(rule) <= INTERNET_PORTS:
                    problems.append(f"{where}: ports {sorted(peer_ports(rule))} open to the internet, want only {sorted(INTERNET_PORTS)}")
    return problems


def check_secret_template(path: str) -> int:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    problems = []
    if len(docs) != 1 or docs[0].get("kind") != "Secret" or docs[0]["metadata"].get("name") != SECRET:
        problems.append(f"expected one Secret named {SECRET}")
    else:
        keys = set(docs[0].get("stringData", {})) | set(docs[0].get("data", {}))
        if keys != SECRET_SETTINGS:
            problems.append(f"keys {sorted(keys)}, want {sorted(SECRET_SETTINGS)}")
    for p in problems:
        print(f"INVARIANT secret template: {p}")
    return 1 if problems else 0


def check_storefronts_template(path: str) -> int:
    """The storefronts Secret: one key, pagos.toml, a [[storefronts]] list as the README says."""
    import tomllib

    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    problems = []
    if len(docs) != 1 or docs[0].get("kind") != "Secret" or docs[0]["metadata"].get("name") != "pagos-storefronts":
        problems.append("expected one Secret named pagos-storefronts")
    else:
        data = docs[0].get("stringData", {})
        if set(data) != {"pagos.toml"}:
            problems.append(f"keys {sorted(data)}, want ['pagos.toml']")
        else:
            entries = tomllib.loads(data["pagos.toml"]).get("storefronts", [])
            if not entries:
                problems.append("pagos.toml lists no [[storefronts]]")
            allowed = {"name", "api_keys", "signing_secrets", "notification_hosts"}
            for entry in entries:
                missing = {"name", "api_keys", "signing_secrets"} - set(entry)
                unknown = set(entry) - allowed
                if missing or unknown:
                    problems.append(f"storefront {entry.get('name')}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    for p in problems:
        print(f"INVARIANT storefronts template: {p}")
    return 1 if problems else 0


def main(overlay: str, path: str) -> int:
    if overlay == "secret":
        return check_secret_template(path)
    if overlay == "storefronts":
        return check_storefronts_template(path)
    if overlay == "builtin":
        return print_builtin(path)
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind: dict = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    problems = []

    def check(ok, message):
        if not ok:
            problems.append(f"{overlay}: {message}")

    def one(kind):
        found = by_kind.get(kind, [])
        check(len(found) == 1, f"expected one {kind}, found {len(found)}")
        return found[0] if found else {}

    deploy = one("Deployment")
    spec = deploy.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    pod_labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    containers = pod.get("containers", [{}])
    c = containers[0]
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    check(ports == {"http": 8080}, f"container ports {ports}, want http: 8080")
    check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "liveness is not GET /healthz")
    check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "readiness is not GET /readyz")
    pause = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    check(pause > 0, "no preStop sleep")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    drain = REQUEST_DRAIN_SECONDS + RELAY_DRAIN_SECONDS
    check(grace > pause + drain, f"terminationGracePeriodSeconds {grace} <= preStop {pause} + drains {drain}")
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    for key, want in [("runAsNonRoot", True), ("runAsUser", 65532), ("runAsGroup", 65532), ("fsGroup", 65532)]:
        check(psc.get(key) == want, f"pod securityContext.{key} != {want}")
    for key, want in [("runAsNonRoot", True), ("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)]:
        check(csc.get(key) == want, f"container securityContext.{key} != {want}")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities not dropped")
    for where, sc in (("pod", psc), ("container", csc)):
        check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where} seccompProfile not RuntimeDefault")
    requests, limits = expected_resources()
    resources = c.get("resources", {})
    check(resources.get("requests") == requests, f"resources.requests {resources.get('requests')}, want {requests} (deploy/README.md, Resources)")
    check(resources.get("limits") == limits, f"resources.limits {resources.get('limits')}, want {limits} (deploy/README.md, Resources)")
    startup = c.get("startupProbe", {})
    budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    check(startup.get("httpGet", {}).get("path") == "/healthz", "startup probe is not GET /healthz")
    check(budget >= STARTUP_BUDGET_MIN_SECONDS, f"startup probe budget {budget} s < {STARTUP_BUDGET_MIN_SECONDS} s: a long migration would be killed")
    check(spec.get("progressDeadlineSeconds", 600) > budget, f"progressDeadlineSeconds {spec.get('progressDeadlineSeconds', 600)} <= startup budget {budget} s")
    annotations = spec.get("template", {}).get("metadata", {}).get("annotations", {})
    want_annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}
    check(want_annotations.items() <= annotations.items(), f"pod annotations {annotations}, want {want_annotations}")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    check("emptyDir" in volumes.get(mounts.get("/tmp"), {}), "/tmp is not an emptyDir")
    storefronts = volumes.get(mounts.get("/etc/pagos"), {}).get("secret", {})
    check(storefronts.get("secretName") == "pagos-storefronts" and storefronts.get("optional") is True,
          "/etc/pagos is not the optional Secret pagos-storefronts")
    check(any(m["mountPath"] == "/etc/pagos" and m.get("readOnly") for m in c.get("volumeMounts", [])),
          "/etc/pagos is not mounted read-only")

    configmaps = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind.get("ConfigMap", [])}
    refs = c.get("envFrom", [])
    cm_names = [r["configMapRef"]["name"] for r in refs if "configMapRef" in r]
    check(len(cm_names) == 1 and cm_names[0] in configmaps, f"envFrom ConfigMap {cm_names} not rendered")
    check([r["secretRef"]["name"] for r in refs if "secretRef" in r] == [SECRET], f"envFrom Secret is not {SECRET}")
    config = configmaps.get(cm_names[0], {}) if cm_names else {}
    for key, want in SETTINGS.items():
        check(config.get(key) == want, f"ConfigMap {key}={config.get(key)!r}, want {want!r}")
    leaked = sorted(SECRET_SETTINGS.intersection(config) - {"PAGOS__DATABASE__URL"})
    check(not leaked, f"secrets in the ConfigMap: {leaked}")

    service = one("Service")
    sel = service.get("spec", {}).get("selector", {})
    check(sel and sel.items() <= pod_labels.items(), "Service selector does not match the pods")
    check([(p.get("port"), p.get("targetPort")) for p in service.get("spec", {}).get("ports", [])] == [(80, "http")], "Service is not port 80 -> http")

    ingress = one("Ingress")
    paths = [(p.get("path"), p.get("pathType")) for r in ingress.get("spec", {}).get("rules", []) for p in r.get("http", {}).get("paths", [])]
    check(paths == [("/webhooks/conekta", "Prefix")], f"Ingress exposes {paths}, want only /webhooks/conekta")

    policies = {p["metadata"]["name"]: p for p in by_kind.get("NetworkPolicy", [])}
    for name, p in policies.items():
        npsel = p.get("spec", {}).get("podSelector", {}).get("matchLabels", {})
        check(npsel and npsel.items() <= pod_labels.items(), f"NetworkPolicy {name} does not select the pods")
    policy = policies.get("pagos", {})
    check(sorted(policy.get("spec", {}).get("policyTypes", [])) == ["Egress", "Ingress"], "NetworkPolicy pagos must restrict ingress and egress")
    problems.extend(f"{overlay}: {p}" for p in egress_problems(policies.values()))
    egress = [r for p in policies.values() for r in p.get("spec", {}).get("egress", [])]
    dns = [r for r in egress if peer_ports(r) == DNS_PORTS]
    check(any(peer.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"} for r in dns for peer in r["to"]), "no egress rule for DNS to kube-dns on UDP/TCP 53")
    web = {port for r in egress for peer in r.get("to", []) if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" for port in peer_ports(r)}
    check(web == INTERNET_PORTS, f"internet egress on {sorted(web)}, want {sorted(INTERNET_PORTS)} (Conekta, storefronts)")
    database = [r for r in egress if DATABASE_PORT in peer_ports(r)]

    for (api, kind), schema in CUSTOM_SCHEMAS.items():
        for d in (d for d in by_kind.get(kind, []) if d.get("apiVersion") == api):
            for error in jsonschema.Draft7Validator(schema).iter_errors(d):
                where = "/".join(str(x) for x in error.absolute_path) or "(top)"
                problems.append(f"{overlay}: {kind} {d.get('metadata', {}).get('name')}: {where}: {error.message}")

    env = {e["name"]: e for e in c.get("env", [])}
    if overlay == "single":
        check(not database, "single reaches no database over the network (SQLite)")
        check(spec.get("replicas") == 1, "single must run exactly one replica (SQLite)")
        check(spec.get("strategy", {}).get("type") == "Recreate", "single must use the Recreate strategy")
        claim = volumes.get(mounts.get("/data"), {}).get("persistentVolumeClaim", {}).get("claimName")
        pvcs = {p["metadata"]["name"]: p for p in by_kind.get("PersistentVolumeClaim", [])}
        check(claim == "pagos-data" and claim in pvcs, "/data is not the PersistentVolumeClaim pagos-data")
        check(config.get("PAGOS__DATABASE__URL", "").startswith("sqlite:///data/"), "the SQLite file is not on /data")
        check(not by_kind.get("HorizontalPodAutoscaler"), "single must not autoscale")
    elif overlay == "ha":
        check("replicas" not in spec, f"ha sets replicas: {spec.get('replicas')}; the HPA owns the count")
        anywhere = [peer for r in database for peer in r.get("to", []) if peer.get("ipBlock", {}).get("cidr", "").endswith("/0")]
        check(len(database) == 1 and not anywhere, "ha needs one egress rule to its database on 5432, to a selector or the database's CIDR, not to any address")
        monitors = by_kind.get("ServiceMonitor", [])
        check(len(monitors) == 1, f"expected one ServiceMonitor, found {len(monitors)}")
        for sm in monitors:
            smspec = sm.get("spec", {})
            service_labels = service.get("metadata", {}).get("labels", {})
            smsel = smspec.get("selector", {}).get("matchLabels", {})
            check(smsel and smsel.items() <= service_labels.items(), "ServiceMonitor does not select the Service pagos")
            check(sm["metadata"].get("namespace") == service["metadata"].get("namespace") or service["metadata"].get("namespace") in smspec.get("namespaceSelector", {}).get("matchNames", []), "ServiceMonitor looks in another namespace than the Service's")
            service_ports = {p.get("name") for p in service.get("spec", {}).get("ports", [])}
            for e in smspec.get("endpoints", []):
                check(e.get("port") in service_ports, f"ServiceMonitor port {e.get('port')!r} is not a Service port {sorted(service_ports)}")
                check(e.get("path") == "/metrics", f"ServiceMonitor path {e.get('path')!r}, want /metrics")
                if all(k in e and re.match(DURATION, str(e[k])) for k in ("interval", "scrapeTimeout")):
                    check(seconds(e["scrapeTimeout"]) <= seconds(e["interval"]), "ServiceMonitor scrapeTimeout exceeds its interval")
        scrapers = [r for p in policies.values() for r in p.get("spec", {}).get("ingress", []) if any("podSelector" in f for f in r.get("from", []))]
        check(any(("TCP", 8080) in peer_ports(r) for r in scrapers), "no ingress rule lets Prometheus reach 8080")
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        check(rolling.get("maxUnavailable") == 0 and rolling.get("maxSurge") == 1, "ha rolls with maxUnavailable 0, maxSurge 1")
        ref = env.get("PAGOS__DATABASE__URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
        check(ref.get("name") == SECRET, "ha takes PAGOS__DATABASE__URL from the Secret")
        check("PAGOS__DATABASE__URL" not in config, "ha must not set a database URL in the ConfigMap")
        check("/data" not in mounts and not by_kind.get("PersistentVolumeClaim"), "ha has no local store")
        hpa = one("HorizontalPodAutoscaler").get("spec", {})
        check(hpa.get("scaleTargetRef", {}).get("name") == "pagos", "HPA does not scale Deployment pagos")
        check((hpa.get("minReplicas"), hpa.get("maxReplicas")) == (3, 10), "HPA is not 3..10")
        cpu_targets = [m["resource"]["target"].get("averageUtilization") for m in hpa.get("metrics", []) if m.get("resource", {}).get("name") == "cpu"]
        check(cpu_targets == [round(HPA_CPU_TARGET * 100)], f"HPA CPU targets {cpu_targets}, want [{round(HPA_CPU_TARGET * 100)}] (the CPU request is sized for it)")
        pdb = one("PodDisruptionBudget").get("spec", {})
        pdbsel = pdb.get("selector", {}).get("matchLabels", {})
        check(pdb.get("minAvailable") == 2 and pdbsel and pdbsel.items() <= pod_labels.items(), "PDB is not minAvailable 2 over the pods")
        check(pdb.get("minAvailable", 0) < hpa.get("minReplicas", 0), "PDB would block every eviction")
        check("podAntiAffinity" in pod.get("affinity", {}), "ha has no pod anti-affinity")
    else:
        problems.append(f"unknown overlay {overlay}")

    for p in problems:
        print(f"INVARIANT {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
