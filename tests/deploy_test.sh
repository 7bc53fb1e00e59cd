#!/usr/bin/env bash
# Renders every kustomization under deploy/ with `kubectl kustomize` and checks what a
# cluster would get: the sidecar's image, its hardening, resources, probes and args, the
# ConfigMap volume, and each shape's reload action. The YAML is parsed (python3 with
# PyYAML), never grepped.
#
#   tests/deploy_test.sh SOURCE_DIR
#   KUBECTL=/path/to/kubectl tests/deploy_test.sh SOURCE_DIR    # another kubectl
#
# Run it with both kustomizes users have: kustomize v5 (kubectl 1.27 and later) and
# v2.0.3 (kubectl 1.14 to 1.20, such as Debian 12's kubernetes-client). Without a kubectl
# it fails and says so: it is never skipped in silence.
set -eu

fail() { echo "FAIL $*"; exit 1; }
src=$(cd "${1:?usage: tests/deploy_test.sh SOURCE_DIR}" && pwd) || fail "no source directory $1"

if [ -n "${KUBECTL:-}" ]; then
  kubectl=$KUBECTL
  [ -x "$kubectl" ] || fail "KUBECTL=$kubectl is not an executable"
else
  kubectl=$(command -v kubectl) ||
    fail "no kubectl on PATH: ci/bootstrap installs one (Debian's kubernetes-client); or set KUBECTL=/path/to/kubectl"
fi
python3 -c 'import yaml' 2>/dev/null ||
  fail "python3 with PyYAML is needed to parse the rendered YAML (Debian: python3-yaml, which ci/bootstrap installs)"
version=$(sed -nE 's/^project\(hotreload VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project(hotreload VERSION …) in $src/CMakeLists.txt"

client=$("$kubectl" version --client 2>/dev/null |
  sed -E 's/.*GitVersion:"([^"]*)".*/Client Version: \1/' | tr '\n' ' ') || true
echo "kubectl: $kubectl (${client% })"
echo "version: $version (CMakeLists.txt project())"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The shapes this test knows, and where they are. A kustomization under deploy/ that is
# not among them fails the test: every YAML shipped is checked.
shapes="base:base signal:overlays/signal webhook:overlays/webhook nginx:nginx"
known=$(for s in $shapes; do echo "deploy/${s#*:}/kustomization.yaml"; done | sort)
found=$(cd "$src" && find deploy -name kustomization.yaml -o -name kustomization.yml -o -name Kustomization | sort)
oneline() { printf '%s' "$1" | tr '\n' ' '; }
[ "$found" = "$known" ] || fail "the kustomizations under deploy/ are not the ones this test checks
     expected: $(oneline "$known")
     found:    $(oneline "$found")"
echo "ok   deploy/: the kustomizations are $(oneline "$known")"

shown() {  # a path as the output names it: relative to the sources, or "(copy)/…"
  case $1 in "$src"/*) echo "${1#"$src"/}" ;; "$tmp"/*) echo "(copy)/${1#"$tmp"/}" ;; *) echo "$1" ;; esac
}

render() {  # render NAME DIR
  if ! "$kubectl" kustomize "$2" >"$tmp/$1.yaml" 2>"$tmp/$1.err"; then
    echo "FAIL $1: kubectl kustomize $2 failed:"
    sed 's/^/     /' "$tmp/$1.err"
    exit 1
  fi
  # kustomize v5 warns that `bases` and `patchesStrategicMerge` are deprecated: they are
  # what kustomize v2.0.3 understands. Anything else on stderr fails.
  local other warnings
  other=$(grep -v -E "^# Warning: '(bases|patchesStrategicMerge)' is deprecated\." "$tmp/$1.err" || true)
  if [ -n "$other" ]; then
    echo "FAIL $1: kubectl kustomize $2 rendered, but said on stderr:"
    printf '%s\n' "$other" | sed 's/^/     /'
    exit 1
  fi
  warnings=$(grep -c '^# Warning' "$tmp/$1.err" || true)
  if [ "$warnings" -gt 0 ]; then
    echo "ok   $1: kubectl kustomize $(shown "$2") renders (and warns that bases, patchesStrategicMerge are deprecated: kept for kustomize v2.0.3)"
  else
    echo "ok   $1: kubectl kustomize $(shown "$2") renders, nothing on stderr"
  fi
}

for s in $shapes; do
  render "${s%%:*}" "$src/deploy/${s#*:}"
done

# README.md here says to name your own image with `images:` in a kustomization on top of
# an overlay (what `kustomize edit set image` writes): that it works, in a copy.
cp -R "$src/deploy" "$tmp/deploy"
mkdir "$tmp/deploy/overlays/custom-image"
cat >"$tmp/deploy/overlays/custom-image/kustomization.yaml" <<'EOF'
bases:
  - ../webhook
images:
  - name: localhost/hotreload
    newName: registry.example.com/hotreload
    newTag: 9.9.9
EOF
render custom-image "$tmp/deploy/overlays/custom-image"

python3 - "$src" "$version" "$tmp" <<'PY'
import json, os, re, sys
import yaml

src, version, tmp = sys.argv[1:4]
failures = 0


def check(shape, what, ok, expected=None, found=None):
    global failures
    if ok:
        print(f"ok   {shape}: {what}")
    else:
        failures += 1
        print(f"FAIL {shape}: {what}")
        print(f"     expected: {json.dumps(expected, default=str)}")
        print(f"     found:    {json.dumps(found, default=str)}")
    return ok


OWN_UID = 65532  # the image's user, hotreload
SHAPES = {
    # name: the sidecar's image, the ConfigMap and where it is mounted, how the sidecar
    # reloads the app, and whose uid it runs as.
    "base": dict(image=f"localhost/hotreload:{version}", configmap="app-config",
                 dir="/etc/app", action=None, uid="own"),
    "signal": dict(image=f"localhost/hotreload:{version}", configmap="app-config",
                   dir="/etc/app", action="signal-by-name", uid="app's"),
    "webhook": dict(image=f"localhost/hotreload:{version}", configmap="app-config",
                    dir="/etc/app", action="webhook", uid="own"),
    "nginx": dict(image=f"registry.example.com/hotreload-nginx:{version}",
                  configmap="nginx-config", dir="/etc/nginx/conf", action="signal-by-pid-file",
                  uid="app's"),
    "custom-image": dict(image="registry.example.com/hotreload:9.9.9", configmap="app-config",
                         dir="/etc/app", action="webhook", uid="own"),
}


def options(args):
    """--name=value, --name value, or a bare --name (value None), after the command."""
    opts, i = {}, 1
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                name, value = a.split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                name, value = a, args[i + 1]
                i += 1
            else:
                name, value = a, None
            opts.setdefault(name, []).append(value)
        i += 1
    return opts


def quantity(q):
    """A Kubernetes quantity as a number (cpu in cores, memory in bytes)."""
    m = re.fullmatch(r"([0-9.]+)(m|k|M|G|Ki|Mi|Gi)?", str(q))
    if not m:
        return None
    scale = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[m.group(2)]
    return float(m.group(1)) * scale


def effective(container, pod, key):
    """A securityContext field as it applies to the container (its own, else the pod's)."""
    for ctx in (container.get("securityContext") or {}, pod.get("securityContext") or {}):
        if key in ctx:
            return ctx[key]
    return None


def mount_at(container, path):
    return next((m for m in container.get("volumeMounts") or [] if m.get("mountPath") == path), None)


rendered = {}
for shape, want in SHAPES.items():
    with open(os.path.join(tmp, f"{shape}.yaml")) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    rendered[shape] = docs
    kinds = sorted(d.get("kind", "?") for d in docs)
    if not check(shape, "renders one ConfigMap and one Deployment",
                 kinds == ["ConfigMap", "Deployment"], ["ConfigMap", "Deployment"], kinds):
        continue
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod.get("containers") or []}
    if not check(shape, "a container named hotreload (the sidecar) and one other (the app)",
                 "hotreload" in containers and len(containers) == 2,
                 "hotreload and one other", sorted(containers)):
        continue
    s = containers["hotreload"]
    app = next(c for n, c in containers.items() if n != "hotreload")
    args = s.get("args") or []
    opts = options(args)

    def opt(name):
        return (opts.get(name) or [None])[-1]

    check(shape, f"sidecar image {want['image']}", s.get("image") == want["image"],
          want["image"], s.get("image"))
    check(shape, "sidecar runs `watch`", args[:1] == ["watch"], "args[0] = watch", args[:1])
    check(shape, f"--dir {want['dir']}", opts.get("--dir") == [want["dir"]],
          [want["dir"]], opts.get("--dir"))
    check(shape, "--log-format json", opt("--log-format") == "json", "json", opt("--log-format"))

    # /metrics, /healthz and /readyz: one listener, the port named metrics.
    listen = opt("--metrics-listen")
    check(shape, "--metrics-listen :9533", listen == ":9533", ":9533", listen)
    ports = {p.get("name"): p.get("containerPort") for p in s.get("ports") or []}
    check(shape, "a port named metrics, the one --metrics-listen listens on",
          listen is not None and ports.get("metrics") == int(listen.rsplit(":", 1)[-1]),
          f"metrics: {listen}", ports)
    for probe, path, meaning in (("livenessProbe", "/healthz", "503 when a watch is stalled"),
                                 ("readinessProbe", "/readyz", "200 once every watch has loaded")):
        get = (s.get(probe) or {}).get("httpGet") or {}
        found = {"path": get.get("path"), "port": get.get("port")}
        check(shape, f"{probe}: GET {path} on port metrics ({meaning})",
              found == {"path": path, "port": "metrics"}, {"path": path, "port": "metrics"}, found)

    res = s.get("resources") or {}
    for kind in ("requests", "limits"):
        got = {r: (res.get(kind) or {}).get(r) for r in ("cpu", "memory")}
        check(shape, f"resources.{kind}: cpu and memory ({got['cpu']}, {got['memory']})",
              all(quantity(v) for v in got.values()), "cpu and memory quantities", got)
    within = all(quantity((res.get("requests") or {}).get(r)) is not None and
                 quantity((res.get("limits") or {}).get(r)) is not None and
                 quantity(res["requests"][r]) <= quantity(res["limits"][r]) for r in ("cpu", "memory"))
    check(shape, "resources: requests within limits", within, "requests <= limits", res)

    # The sidecar's hardening (securityContext, the container's own or the pod's).
    for key, value in (("readOnlyRootFilesystem", True), ("runAsNonRoot", True),
                       ("allowPrivilegeEscalation", False)):
        found = effective(s, pod, key)
        check(shape, f"securityContext.{key}: {str(value).lower()}", found is value, value, found)
    caps = effective(s, pod, "capabilities") or {}
    check(shape, "securityContext.capabilities: drop ALL, add none",
          "ALL" in (caps.get("drop") or []) and not caps.get("add"),
          {"drop": ["ALL"]}, caps)
    seccomp = effective(s, pod, "seccompProfile") or {}
    check(shape, "securityContext.seccompProfile: RuntimeDefault",
          seccomp.get("type") == "RuntimeDefault", "RuntimeDefault", seccomp.get("type"))
    uid, app_uid = effective(s, pod, "runAsUser"), effective(app, pod, "runAsUser")
    if want["uid"] == "own":
        check(shape, f"sidecar runs as its image's user, uid {OWN_UID}", uid == OWN_UID, OWN_UID, uid)
    else:
        check(shape, f"sidecar runs as the app's uid ({app_uid}), so that it may signal it "
              "(no root, no CAP_KILL)",
              uid is not None and uid == app_uid and uid != 0, f"uid {app_uid}, not 0", uid)

    # The ConfigMap volume: whole (no subPath), read-only, in both containers, where --dir is.
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    config = [n for n, v in volumes.items()
              if (v.get("configMap") or {}).get("name") == want["configmap"]]
    if check(shape, f"a volume of the ConfigMap {want['configmap']}, which is rendered",
             len(config) == 1 and cm["metadata"]["name"] == want["configmap"],
             want["configmap"], {"volumes": config, "ConfigMap": cm["metadata"]["name"]}):
        for c in (s, app):
            m = mount_at(c, want["dir"])
            found = m and {k: m.get(k) for k in ("name", "readOnly", "subPath")}
            check(shape, f"{c['name']} mounts it read-only at {want['dir']}, whole",
                  found == {"name": config[0], "readOnly": True, "subPath": None},
                  {"name": config[0], "readOnly": True, "subPath": None}, found)
    m = mount_at(s, "/tmp")
    check(shape, "sidecar has a writable emptyDir at /tmp (--validate-cmd's copies)",
          m is not None and not m.get("readOnly") and "emptyDir" in volumes.get(m.get("name"), {}),
          "a writable emptyDir mount at /tmp", m)

    # How the app hears of a change.
    share = pod.get("shareProcessNamespace")
    signals = want["action"] in ("signal-by-name", "signal-by-pid-file")
    check(shape, f"shareProcessNamespace: {'true' if signals else 'not set'}"
          f" ({'it signals the app' if signals else 'it does not signal'})",
          share is True if signals else not share, True if signals else None, share)
    if want["action"] is None:
        acted = [a for a in ("--signal", "--webhook", "--exec") if a in opts]
        check(shape, "no reload action (the overlays add one)", not acted, [], acted)
    elif signals:
        check(shape, "--signal HUP", opt("--signal") == "HUP", "HUP", opt("--signal"))
        check(shape, "no --webhook", "--webhook" not in opts, None, opts.get("--webhook"))
        if want["action"] == "signal-by-name":
            check(shape, "--process-name names the app's process, and neither --pid nor --pid-file",
                  bool(opt("--process-name")) and "--pid" not in opts and "--pid-file" not in opts,
                  "--process-name NAME", {k: opts.get(k) for k in ("--process-name", "--pid", "--pid-file")})
        else:
            pid_file = opt("--pid-file") or ""
            piddir = os.path.dirname(pid_file)
            ms, ma = mount_at(s, piddir), mount_at(app, piddir)
            check(shape, f"--pid-file {pid_file} is in a volume the app writes and the sidecar reads",
                  bool(pid_file) and ms is not None and ma is not None and ms["name"] == ma["name"]
                  and not ma.get("readOnly"),
                  f"one volume at {piddir or '?'} in both containers, writable in the app's", [ms, ma])
    else:
        url = opt("--webhook") or ""
        app_ports = [p.get("containerPort") for p in app.get("ports") or []]
        u = re.fullmatch(r"http://(localhost|127\.0\.0\.1):(\d+)/.*", url)
        check(shape, f"--webhook {url}: on localhost, at a port of the app",
              u is not None and int(u.group(2)) in app_ports,
              f"http://localhost:PORT/… with PORT in {app_ports}", url)
        check(shape, "no --signal", "--signal" not in opts, None, opts.get("--signal"))

# The overlays add to the base: the very same ConfigMap, and the app as it is there.
def part(shape, kind):
    return next((d for d in rendered.get(shape, []) if d.get("kind") == kind), None)

def app_of(shape):
    d = part(shape, "Deployment")
    cs = d and d["spec"]["template"]["spec"].get("containers") or []
    return next((c for c in cs if c.get("name") == "app"), None)

base_cm = part("base", "ConfigMap")
for shape in ("signal", "webhook"):
    cm = part(shape, "ConfigMap")
    check(shape, "its ConfigMap is the base's (app-config, the same keys and content)",
          base_cm is not None and cm == base_cm,
          base_cm and {base_cm["metadata"]["name"]: sorted(base_cm.get("data", {}))},
          cm and {cm["metadata"]["name"]: sorted(cm.get("data", {}))})
    check(shape, "its app container is the base's", app_of(shape) == app_of("base"),
          app_of("base"), app_of(shape))
check("custom-image", "images: renames the sidecar's image only (the app's is kept)",
      app_of("custom-image") == app_of("webhook"), app_of("webhook"), app_of("custom-image"))

# Every YAML file under deploy/ is a part of a kustomization rendered above.
used = set()
for root, _, files in os.walk(os.path.join(src, "deploy")):
    for name in files:
        if name == "kustomization.yaml":
            with open(os.path.join(root, name)) as f:
                k = yaml.safe_load(f) or {}
            for field in ("resources", "patchesStrategicMerge"):
                for entry in k.get(field) or []:
                    path = os.path.normpath(os.path.join(root, entry))
                    if os.path.isfile(path):
                        used.add(path)
shipped = {os.path.normpath(os.path.join(root, n)) for root, _, files in os.walk(os.path.join(src, "deploy"))
           for n in files if n.endswith((".yaml", ".yml")) and n != "kustomization.yaml"}
loose = sorted(os.path.relpath(p, src) for p in shipped - used)
check("deploy/", f"every YAML file is in a kustomization rendered here ({len(shipped)} files)",
      not loose, "none outside one", loose)

if failures:
    print(f"{failures} check(s) failed")
    sys.exit(1)
print("all checks passed")
PY
