#!/usr/bin/env python3
"""Checks what a schema cannot: the rendered overlay (kustomize build output) fits pagos.

usage: invariants.py single|ha RENDERED.yaml
       invariants.py secret base/secret.example.yaml
Prints one line per broken rule and exits 1 if any; silent and 0 when all hold.
"""
import sys

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
}
# SIGTERM: requests in flight finish (actix, up to 30 s), then deliveries in flight (up to 30 s).
REQUEST_DRAIN_SECONDS = 30
RELAY_DRAIN_SECONDS = 30
SECRET = "pagos-secrets"


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


def main(overlay: str, path: str) -> int:
    if overlay == "secret":
        return check_secret_template(path)
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
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    check("emptyDir" in volumes.get(mounts.get("/tmp"), {}), "/tmp is not an emptyDir")

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

    policy = one("NetworkPolicy")
    npsel = policy.get("spec", {}).get("podSelector", {}).get("matchLabels", {})
    check(npsel and npsel.items() <= pod_labels.items(), "NetworkPolicy does not select the pods")
    check(sorted(policy.get("spec", {}).get("policyTypes", [])) == ["Egress", "Ingress"], "NetworkPolicy must restrict ingress and egress")

    env = {e["name"]: e for e in c.get("env", [])}
    if overlay == "single":
        check(spec.get("replicas") == 1, "single must run exactly one replica (SQLite)")
        check(spec.get("strategy", {}).get("type") == "Recreate", "single must use the Recreate strategy")
        claim = volumes.get(mounts.get("/data"), {}).get("persistentVolumeClaim", {}).get("claimName")
        pvcs = {p["metadata"]["name"]: p for p in by_kind.get("PersistentVolumeClaim", [])}
        check(claim == "pagos-data" and claim in pvcs, "/data is not the PersistentVolumeClaim pagos-data")
        check(config.get("PAGOS__DATABASE__URL", "").startswith("sqlite:///data/"), "the SQLite file is not on /data")
        check(not by_kind.get("HorizontalPodAutoscaler"), "single must not autoscale")
    elif overlay == "ha":
        check(spec.get("replicas", 0) >= 3, "ha runs at least 3 replicas")
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        check(rolling.get("maxUnavailable") == 0 and rolling.get("maxSurge") == 1, "ha rolls with maxUnavailable 0, maxSurge 1")
        ref = env.get("PAGOS__DATABASE__URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
        check(ref.get("name") == SECRET, "ha takes PAGOS__DATABASE__URL from the Secret")
        check("PAGOS__DATABASE__URL" not in config, "ha must not set a database URL in the ConfigMap")
        check("/data" not in mounts and not by_kind.get("PersistentVolumeClaim"), "ha has no local store")
        hpa = one("HorizontalPodAutoscaler").get("spec", {})
        check(hpa.get("scaleTargetRef", {}).get("name") == "pagos", "HPA does not scale Deployment pagos")
        check((hpa.get("minReplicas"), hpa.get("maxReplicas")) == (3, 10), "HPA is not 3..10")
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
