#!/usr/bin/env python3
"""Offline checks of the deployment manifests, driven by scripts/validate-deploy.

Subcommands (each exits 1 and prints the problems when a check fails):

  crd SCHEMA FILE...        validate every object of the CRD's group/kind in the
                            YAML streams against the CRD's openAPIV3Schema, turned
                            into JSON Schema with unknown fields rejected
                            (additionalProperties: false on every object schema
                            with properties, except under
                            x-kubernetes-preserve-unknown-fields). CEL rules
                            (x-kubernetes-validations) are not evaluated.
                            Fields documented as "accessible behind a feature
                            flag" (Knative) are rejected: the manifests must
                            work on a default Knative install.
  admission [--max-revision-timeout N] FILE...
                            Knative Serving v1.23's admission webhook, offline:
                            the defaulting and validation rules of its source
                            (pkg/apis/serving/k8s_validation.go,
                            pkg/apis/serving/v1/revision_defaults.go,
                            revision_validation.go, route_validation.go,
                            pkg/apis/autoscaling/annotation_validation.go,
                            pkg/apis/config/defaults.go) for every field the
                            Services use, against a stock config-defaults
                            (max-revision-timeout-seconds N, default 600) and
                            config-autoscaler (KPA, allow-zero-initial-scale
                            false, max-scale-limit 0). See ADMISSION_RULES.
  secrets LIST_JSON FILE    least privilege: every function reads its Secret
                            key by key (no envFrom secretRef), exactly
                            DATABASE_URL, REDIS_URL, SENTRY_DSN and the keys
                            its manifest lists (LIST_JSON "secrets"); no
                            function gets DATABASE_DIRECT_URL; the migration
                            jobs get no key but DATABASE_DIRECT_URL.
  split OUTDIR FILE...      write core objects one per file into OUTDIR (for
                            kubernetes-validate), skip CRD kinds, print counts.
  refgrant FILE...          every ReferenceGrant has exactly the fields of
                            Gateway API's ReferenceGrant (v1beta1 or v1), unknown
                            fields rejected (no CRD schema here: checked by hand).
  routes [--backend NS/NAME:PORT] LIST_JSON FILE...
                            the HTTPRoutes in FILE cover every function route in
                            exactly one rule, and no rule shadows another (below);
                            the function of a rule is the one its URLRewrite
                            hostname names; every rule's backend is a Service in
                            another namespace (the Knative local gateway, NS/NAME
                            on PORT when given), never a function's own name
                            (Knative backs it with an ExternalName Service, which
                            Gateway API implementations refuse), and a
                            ReferenceGrant in FILE permits the reference.
  database FILE             the database wiring of a rendering: functions carry
                            the database-client label and not postgres-client;
                            with PgBouncer, functions may only reach PgBouncer
                            and only postgres-client pods reach Postgres; the
                            migration Job and departures CronJob use
                            DATABASE_DIRECT_URL; Postgres has an explicit
                            max_connections; and the connection budget:
                            sum(max-scale) x DB_MAX_CONNECTIONS <= max_client_conn,
                            max_connections >= PgBouncer pods x max_db_connections
                            + 8 (jobs, pg_dump, superuser reserve).
  compare KNATIVE HELM      the Helm rendering has the same Knative Services
                            (spec, annotations), HTTPRoutes and ReferenceGrants
                            (spec), function ConfigMap (data), pgbouncer.ini
                            settings, PgBouncer replicas and Postgres args as
                            knative/.
  expect-concurrency FILE NAME N
                            Knative Service NAME has containerConcurrency N.
  expect-websocket FILE NAME
                            Knative Service NAME has the WebSocket settings.
  count-functions LIST_JSON FILE...
                            every function has exactly one Knative Service.
  alerts RULES TESTS MONITORING_MD METRICS_RS LIST_JSON
                            the alert rules: expressions use only metrics the
                            functions export (read from METRICS_RS) or `up`;
                            every by (...) includes function; selectors of
                            http_request_duration_seconds exclude exactly the
                            WebSocket routes of LIST_JSON; severity, for:,
                            summary and a description pointing at the alert's
                            section of MONITORING_MD, which exists; every alert
                            has a promtool test case in TESTS that makes it fire
                            and one that keeps it quiet.
  dashboard JSON METRICS_RS LIST_JSON [--rules-out FILE]
                            the Grafana dashboard parses; every panel has a
                            title; every panel and target queries the
                            ${datasource} variable, which is a Prometheus
                            data source variable; every expression uses only
                            exported metrics (or `up`), filters by $function
                            and keeps WebSocket routes out of latency; FILE gets
                            the expressions as recording rules for promtool.
  expect-dashboard FILE JSON [--absent]
                            FILE has one ConfigMap labelled grafana_dashboard:
                            "1" carrying JSON (none with --absent).

Shadowing rule (routes): for every rule match a witness request is built (an
Exact path itself; a regex match's declared path with each {param} replaced by
"w1" and {*rest} by "w1/w2"); every witness path is tried with every method
in use, so each static path of one function is also tried against every other
function's rules. The winner for a witness is chosen by Gateway API precedence among
the matches with the same method: Exact beats RegularExpression; among several
Exact or several RegularExpression matches there is no defined winner, so more
than one candidate is a conflict. Every witness must have exactly one winner,
and a rule's own witness must be won by that rule.
"""

import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

CRD_KINDS = {
    ("serving.knative.dev", "Service"),
    ("gateway.networking.k8s.io", "HTTPRoute"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "ReferenceGrant"),
    ("cert-manager.io", "Certificate"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("postgresql.cnpg.io", "Cluster"),
    ("postgresql.cnpg.io", "Pooler"),
    ("postgresql.cnpg.io", "ScheduledBackup"),
}


def load_docs(paths):
    docs = []
    for p in paths:
        text = sys.stdin.read() if p == "-" else Path(p).read_text()
        for d in yaml.safe_load_all(text):
            if d:
                docs.append(d)
    return docs


def group_of(obj):
    api = obj.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


# --- CRD schema -> JSON Schema ------------------------------------------------

_DROP = {"description", "format", "nullable", "default", "example", "x-kubernetes-list-type",
         "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations",
         "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
         "x-kubernetes-embedded-resource"}


FEATURE_FLAG = "behind a feature flag"


def convert(s):
    if not isinstance(s, dict):
        return s
    if FEATURE_FLAG in s.get("description", ""):
        # Knative rejects these fields unless the cluster enables the flag:
        # the manifests must not need any.
        return {"not": {}}
    out = {}
    for k, v in s.items():
        if k in ("properties", "patternProperties"):
            out[k] = {pk: convert(pv) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            out[k] = convert(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [convert(x) for x in v]
        elif k in _DROP:
            continue
        else:
            out[k] = v
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("allOf", []).append({"type": ["integer", "string"]})
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (out.get("type") == "object" and "properties" in out
            and "additionalProperties" not in out
            and not s.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


DNS1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": DNS1123, "maxLength": 253},
        "namespace": {"type": "string", "pattern": DNS1123},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def crd_validator(schema_path):
    crd = next(d for d in yaml.safe_load_all(Path(schema_path).read_text()) if d)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    validators = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = convert(version["schema"]["openAPIV3Schema"])
        schema["properties"]["metadata"] = OBJECT_META
        schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
        validators[f"{group}/{version['name']}"] = jsonschema.Draft7Validator(schema)
    return group, kind, validators


def cmd_crd(schema_path, *files):
    group, kind, validators = crd_validator(schema_path)
    errors, n = [], 0
    for obj in load_docs(files):
        if group_of(obj) != group or obj.get("kind") != kind:
            continue
        n += 1
        name = (obj.get("metadata") or {}).get("name", "?")
        v = validators.get(obj.get("apiVersion"))
        if v is None:
            errors.append(f"{kind} {name}: apiVersion {obj.get('apiVersion')} not served")
            continue
        for e in sorted(v.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in e.absolute_path)
            errors.append(f"{kind} {name}: {path}: {e.message}")
    if n == 0:
        errors.append(f"no {group} {kind} object found")
    for e in errors:
        print(f"  {e}")
    print(f"{kind}.{group}: {n} object(s), {len(errors)} error(s)")
    return 1 if errors else 0


def cmd_split(outdir, *files):
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    core, skipped = 0, {}
    for obj in load_docs(files):
        key = (group_of(obj), obj.get("kind"))
        if key in CRD_KINDS:
            skipped[key[1]] = skipped.get(key[1], 0) + 1
            continue
        core += 1
        name = (obj.get("metadata") or {}).get("name", "x")
        (out / f"{core:03d}-{obj.get('kind')}-{name}.yaml").write_text(yaml.safe_dump(obj))
    note = ", ".join(f"{k} x{v}" for k, v in sorted(skipped.items()))
    print(f"{core} core object(s); CRD kinds left to the CRD validator or skipped: {note}")
    return 0


# --- ReferenceGrant (no CRD schema here) -------------------------------------

_GROUP = {"type": "string", "maxLength": 253,
          "pattern": r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
_KIND = {"type": "string", "minLength": 1, "maxLength": 63, "pattern": r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"}
_NS = {"type": "string", "minLength": 1, "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
# Gateway API v1.6 ReferenceGrant (v1beta1 and v1 have the same schema).
REFERENCE_GRANT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"enum": ["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"]},
        "kind": {"const": "ReferenceGrant"},
        "metadata": {**OBJECT_META, "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["from", "to"],
            "properties": {
                "from": {"type": "array", "minItems": 1, "maxItems": 16, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["group", "kind", "namespace"],
                    "properties": {"group": _GROUP, "kind": _KIND, "namespace": _NS}}},
                "to": {"type": "array", "minItems": 1, "maxItems": 16, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["group", "kind"],
                    "properties": {"group": _GROUP, "kind": _KIND,
                                   "name": {"type": "string", "minLength": 1, "maxLength": 253}}}},
            },
        },
    },
}


def cmd_refgrant(*files):
    v = jsonschema.Draft7Validator(REFERENCE_GRANT)
    errors, n = [], 0
    for obj in load_docs(files):
        if group_of(obj) != "gateway.networking.k8s.io" or obj.get("kind") != "ReferenceGrant":
            continue
        n += 1
        name = (obj.get("metadata") or {}).get("name", "?")
        for e in sorted(v.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = ".".join(str(p) for p in e.absolute_path)
            errors.append(f"ReferenceGrant {name}: {path}: {e.message}")
    if n == 0:
        errors.append("no ReferenceGrant found")
    for e in errors:
        print(f"  {e}")
    print(f"ReferenceGrant: {n} object(s), {len(errors)} error(s)")
    return 1 if errors else 0


def granted(objs, route_ns, backend_ns, backend_name):
    """A ReferenceGrant in backend_ns lets HTTPRoutes in route_ns reference Service backend_name."""
    for g in objs:
        if g.get("kind") != "ReferenceGrant" or group_of(g) != "gateway.networking.k8s.io":
            continue
        if (g.get("metadata") or {}).get("namespace") != backend_ns:
            continue
        spec = g.get("spec") or {}
        frm = any(f.get("group") == "gateway.networking.k8s.io" and f.get("kind") == "HTTPRoute"
                  and f.get("namespace") == route_ns for f in spec.get("from", []))
        to = any(t.get("group", "") == "" and t.get("kind") == "Service"
                 and t.get("name", backend_name) == backend_name for t in spec.get("to", []))
        if frm and to:
            return True
    return False


# --- routes ---------------------------------------------------------------------

def witness(path):
    path = re.sub(r"\{\*[^}]+\}", "w1/w2", path)
    return re.sub(r"\{[^}]+\}", "w1", path)


HOST = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\.cluster\.local$")


def http_route_matches(objs, expected_backend=None):
    """(function, route name, rule index, method, type, value) per match.

    The function of a rule is the one its URLRewrite hostname names
    (<function>.<namespace>.svc.cluster.local, the host the Knative local
    gateway routes on); the backend must be a Service in another namespace,
    granted by a ReferenceGrant, and never a function's own name."""
    out, problems = [], []
    ksvcs = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs
             if o.get("kind") == "Service" and group_of(o) == "serving.knative.dev"}
    ksvc_names = {n for _, n in ksvcs}
    for o in objs:
        if o.get("kind") != "HTTPRoute":
            continue
        name = o["metadata"]["name"]
        route_ns = o["metadata"].get("namespace", "ai-imutis")
        spec = o["spec"]
        if any(p.get("sectionName") == "http" for p in spec.get("parentRefs", [])):
            continue  # the HTTP->HTTPS redirect
        for i, rule in enumerate(spec.get("rules", [])):
            backends = rule.get("backendRefs", [])
            if len(backends) != 1:
                problems.append(f"{name} rule {i}: expected one backendRef")
                continue
            b = backends[0]
            b_ns = b.get("namespace", route_ns)
            b_name = b.get("name")
            rewrite = [f for f in rule.get("filters", []) if f.get("type") == "URLRewrite"]
            host = rewrite[0]["urlRewrite"].get("hostname") if rewrite else None
            m = HOST.match(host or "")
            if not m or m.group(3) != route_ns:
                problems.append(f"{name} rule {i}: URLRewrite hostname {host!r} is not <function>.{route_ns}.svc.cluster.local")
                continue
            fn = m.group(1)
            if b.get("group", "") != "" or b.get("kind", "Service") != "Service":
                problems.append(f"{name} rule {i}: backend {b.get('group')}/{b.get('kind')} is not a core Service")
            if b_name in ksvc_names or b_name == fn or b_ns == route_ns:
                problems.append(
                    f"{name} rule {i}: backend {b_ns}/{b_name} is in the functions' namespace or named like a "
                    f"Knative Service: Knative backs those with ExternalName Services, which Gateway API "
                    f"implementations refuse (Envoy Gateway: 503 no endpoints); route to the Knative local gateway")
            elif not granted(objs, route_ns, b_ns, b_name):
                problems.append(f"{name} rule {i}: no ReferenceGrant in {b_ns} lets HTTPRoutes in {route_ns} "
                                f"reference Service {b_name}")
            if expected_backend and (b_ns, b_name, b.get("port")) != expected_backend:
                problems.append(f"{name} rule {i}: backend {b_ns}/{b_name}:{b.get('port')} is not the local gateway "
                                f"{expected_backend[0]}/{expected_backend[1]}:{expected_backend[2]}")
            for mt in rule.get("matches", []):
                out.append((fn, name, i, mt.get("method"), mt["path"]["type"], mt["path"]["value"]))
    return out, problems


def cmd_routes(*args):
    args = list(args)
    expected = None
    if args and args[0] == "--backend":
        spec = args[1]
        ns, rest = spec.split("/", 1)
        svc, port = rest.rsplit(":", 1)
        expected = (ns, svc, int(port))
        args = args[2:]
    list_json, files = args[0], args[1:]
    functions = json.loads(Path(list_json).read_text())
    matches, problems = http_route_matches(load_docs(files), expected)
    # Coverage: every declared route in exactly one rule, nothing else.
    declared = {}
    for f in functions:
        for r in f["routes"]:
            declared[(f["name"], r["method"], r["match"], r["value"])] = witness(r["path"])
    seen = {}
    for fn, route, i, method, typ, value in matches:
        seen.setdefault((fn, method, typ, value), set()).add((route, i))
    for key in declared:
        rules = seen.get(key, set())
        if len(rules) != 1:
            problems.append(f"{key[0]} {key[1]} {key[3]}: in {len(rules)} rule(s), expected 1")
    for key in seen:
        if key not in declared:
            problems.append(f"rule for {key} matches no declared route")
    # Shadowing, by precedence on witness requests.
    witnesses = {(k[1], w) for k, w in declared.items()}
    all_paths = {w for (_, w) in witnesses}
    methods = {m for (m, _) in witnesses}
    tried = {(m, p) for m in methods for p in all_paths}
    owner = {}
    for key, w in declared.items():
        owner.setdefault((key[1], w), set()).add(key[0])
    for method, path in sorted(tried):
        cands = [(fn, typ, value) for fn, _, _, m, typ, value in matches if m == method and (
            (typ == "Exact" and value == path) or (typ == "RegularExpression" and re.fullmatch(value, path)))]
        exact = [c for c in cands if c[1] == "Exact"]
        winners = exact or cands
        if (method, path) in owner:
            if len({c[0] for c in winners}) != 1 or len(winners) != 1:
                problems.append(f"{method} {path}: {len(winners)} equally ranked rules {winners}")
            elif winners[0][0] not in owner[(method, path)]:
                problems.append(f"{method} {path}: won by {winners[0][0]}, declared by {sorted(owner[(method, path)])}")
        elif len(winners) > 1:
            problems.append(f"{method} {path}: {len(winners)} equally ranked rules {winners}")
    for p in problems:
        print(f"  {p}")
    n_rules = len({(r, i) for _, r, i, _, _, _ in matches})
    print(f"routes: {len(declared)} declared, {n_rules} rule(s), {len(tried)} witness request(s), "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_count_functions(list_json, *files):
    names = [f["name"] for f in json.loads(Path(list_json).read_text())]
    ksvcs = [o["metadata"]["name"] for o in load_docs(files)
             if o.get("kind") == "Service" and group_of(o) == "serving.knative.dev"]
    problems = [f"{n}: {ksvcs.count(n)} Knative Service(s)" for n in names if ksvcs.count(n) != 1]
    problems += [f"{n}: not a declared function" for n in set(ksvcs) - set(names)]
    for p in problems:
        print(f"  {p}")
    print(f"functions: {len(names)} declared, {len(ksvcs)} Knative Service(s), {len(problems)} problem(s)")
    return 1 if problems else 0


def _index(objs, kind, group):
    return {o["metadata"]["name"]: o for o in objs if o.get("kind") == kind and group_of(o) == group}


CHECKSUMS = ("ai-imutis.dev/config-checksum", "ai-imutis.dev/secrets-checksum")


def _without_checksums(ksvc, problems):
    """A copy of the Knative Service without the checksum annotations, which
    it must carry (a changed ConfigMap or Secret rolls out a new revision)."""
    out = json.loads(json.dumps(ksvc))
    ann = out["spec"]["template"]["metadata"].get("annotations", {})
    for key in CHECKSUMS:
        if not ann.pop(key, None):
            problems.append(f"Service {ksvc['metadata']['name']}: no {key} on the revision template")
    return out


def cmd_compare(knative, helm):
    k, h = load_docs([knative]), load_docs([helm])
    problems = []
    for kind, group in (("Service", "serving.knative.dev"), ("HTTPRoute", "gateway.networking.k8s.io"),
                        ("ReferenceGrant", "gateway.networking.k8s.io")):
        ki, hi = _index(k, kind, group), _index(h, kind, group)
        if set(ki) != set(hi):
            problems.append(f"{kind}: knative {sorted(set(ki) - set(hi))} vs helm {sorted(set(hi) - set(ki))}")
        for name in sorted(set(ki) & set(hi)):
            if kind == "Service":
                # The checksums are computed differently (xtask: the ConfigMap
                # file, deploy.sh: the live Secret; Helm: the rendering); both
                # renderings must carry them.
                ki[name], hi[name] = _without_checksums(ki[name], problems), _without_checksums(hi[name], problems)
            if ki[name]["spec"] != hi[name]["spec"]:
                problems.append(f"{kind} {name}: spec differs:\n    knative {json.dumps(ki[name]['spec'], sort_keys=True)}\n    helm    {json.dumps(hi[name]['spec'], sort_keys=True)}")
            for field in ("annotations",):
                kv = ki[name]["metadata"].get(field, {})
                hv = hi[name]["metadata"].get(field, {})
                if kv != hv:
                    problems.append(f"{kind} {name}: metadata.{field} differs: {kv} vs {hv}")
            vis = "networking.knative.dev/visibility"
            if ki[name]["metadata"].get("namespace") != hi[name]["metadata"].get("namespace"):
                problems.append(f"{kind} {name}: namespace differs")
            if ki[name]["metadata"].get("labels", {}).get(vis) != hi[name]["metadata"].get("labels", {}).get(vis):
                problems.append(f"{kind} {name}: {vis} label differs")
    kc = _index(k, "ConfigMap", "").get("ai-imutis-config", {}).get("data")
    hc = _index(h, "ConfigMap", "").get("ai-imutis-config", {}).get("data")
    if kc != hc:
        problems.append(f"ConfigMap ai-imutis-config: data differs: {kc} vs {hc}")
    ki, hi = pgbouncer_ini(k), pgbouncer_ini(h)
    if ki != hi:
        diff = {key: (ki.get(key), hi.get(key)) for key in set(ki) | set(hi) if ki.get(key) != hi.get(key)}
        problems.append(f"pgbouncer.ini differs (knative, helm): {diff}")
    for kind, name, get in (("Deployment", "pgbouncer", lambda o: o["spec"].get("replicas")),
                            ("StatefulSet", "postgres", lambda o: pod_containers(o)[0].get("args"))):
        kv = [get(o) for o in k if o.get("kind") == kind and o["metadata"]["name"] == name]
        hv = [get(o) for o in h if o.get("kind") == kind and o["metadata"]["name"] == name]
        if kv != hv:
            problems.append(f"{kind} {name}: {kv} vs {hv}")
    for p in problems:
        print(f"  {p}")
    print(f"compare knative/ vs helm: {len(problems)} difference(s)")
    return 1 if problems else 0


def cmd_expect_concurrency(file, name, n):
    ksvc = _index(load_docs([file]), "Service", "serving.knative.dev").get(name)
    got = ksvc and ksvc["spec"]["template"]["spec"].get("containerConcurrency")
    target = ksvc and ksvc["spec"]["template"]["metadata"]["annotations"].get("autoscaling.knative.dev/target")
    ok = got == int(n) and target == str(n)
    print(f"{name}: containerConcurrency {got}, target {target!r} (expected {n})")
    return 0 if ok else 1


def cmd_expect_websocket(file, name):
    ksvc = _index(load_docs([file]), "Service", "serving.knative.dev").get(name)
    if not ksvc:
        print(f"{name}: no Knative Service")
        return 1
    spec = ksvc["spec"]["template"]["spec"]
    ann = ksvc["spec"]["template"]["metadata"]["annotations"]
    problems = []
    t, start, idle = (spec.get(k) for k in ("timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"))
    if not (t and start and idle and start <= 30 and idle <= t and t >= 600):
        problems.append(f"timeouts {t}/{start}/{idle}: want timeoutSeconds >= 600 (the stock maximum), "
                        "responseStartTimeoutSeconds set (<= 30: Knative would default it to 300) and idleTimeoutSeconds <= timeoutSeconds")
    if ann.get("autoscaling.knative.dev/metric") != "concurrency":
        problems.append("metric is not concurrency")
    if ann.get("autoscaling.knative.dev/target") != str(spec.get("containerConcurrency")):
        problems.append("target differs from containerConcurrency")
    if "autoscaling.knative.dev/scale-down-delay" not in ann:
        problems.append("no scale-down-delay")
    print(f"{name}: websocket settings, {len(problems)} problem(s) {problems}")
    return 1 if problems else 0


# --- database wiring -------------------------------------------------------------

def pod_template(o):
    if o.get("kind") == "CronJob":
        return o["spec"]["jobTemplate"]["spec"]["template"]
    return o["spec"]["template"]


def pod_containers(o):
    return pod_template(o)["spec"]["containers"]


def pgbouncer_ini(objs):
    """The settings of the pgbouncer.ini in the rendering's pgbouncer-config ConfigMap."""
    for o in objs:
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith("pgbouncer-config"):
            out, section = {}, ""
            for line in o["data"]["pgbouncer.ini"].splitlines():
                line = line.strip()
                if not line or line[0] in ";#":
                    continue
                if line.startswith("["):
                    section = line.strip("[]")
                    continue
                key, _, value = line.partition("=")
                out[f"{section}.{key.strip()}"] = value.strip()
            return out
    return {}


def cmd_database(file):
    objs = load_docs([file])
    problems = []
    ksvcs = [o for o in objs if o.get("kind") == "Service" and group_of(o) == "serving.knative.dev"]
    for o in ksvcs:
        labels = o["spec"]["template"]["metadata"].get("labels", {})
        if labels.get("ai-imutis.dev/database-client") != "true":
            problems.append(f"function {o['metadata']['name']}: no ai-imutis.dev/database-client label")
        if "ai-imutis.dev/postgres-client" in labels:
            problems.append(f"function {o['metadata']['name']}: labelled postgres-client (may reach Postgres past the pooler)")
    policies = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "NetworkPolicy"}
    ini = pgbouncer_ini(objs)
    pooler = [o for o in objs if o.get("kind") == "Deployment" and o["metadata"]["name"] == "pgbouncer"]
    postgres = [o for o in objs if o.get("kind") == "StatefulSet" and o["metadata"]["name"] == "postgres"]
    if pooler:
        if not ini:
            problems.append("PgBouncer without its pgbouncer-config ConfigMap")
        if not any(o.get("kind") == "Service" and group_of(o) == "" and o["metadata"]["name"] == "pgbouncer" for o in objs):
            problems.append("PgBouncer without its Service")
        if ini.get("pgbouncer.pool_mode") != "transaction":
            problems.append(f"PgBouncer pool_mode {ini.get('pgbouncer.pool_mode')!r}, expected transaction")
        if policies:
            egress = policies.get("database-clients", {}).get("spec", {}).get("egress", [])
            targets = [p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                       for e in egress for p in e.get("to", [{}])]
            if targets != ["pgbouncer"]:
                problems.append(f"NetworkPolicy database-clients lets functions reach {targets}, expected only pgbouncer")
            ingress = policies.get("postgres-ingress", {}).get("spec", {}).get("ingress", [])
            sources = [p.get("podSelector", {}).get("matchLabels", {}) for i in ingress for p in i.get("from", [])]
            if postgres and sources != [{"ai-imutis.dev/postgres-client": "true"}]:
                problems.append(f"NetworkPolicy postgres-ingress admits {sources}, expected only postgres-client pods")
            if "pgbouncer-ingress" not in policies:
                problems.append("no NetworkPolicy pgbouncer-ingress: functions cannot reach PgBouncer")
    for kind, name in (("Job", "ai-imutis-migrate"), ("CronJob", "ai-imutis-roll-departures"),
                       ("CronJob", "ai-imutis-refit-models"), ("CronJob", "ai-imutis-prune")):
        for o in objs:
            if o.get("kind") != kind or o["metadata"]["name"] != name:
                continue
            env = {e["name"]: e for e in pod_containers(o)[0].get("env", [])}
            key = env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key")
            if key != "DATABASE_DIRECT_URL":
                problems.append(f"{kind} {name}: DATABASE_URL is not the secret's DATABASE_DIRECT_URL (migrations need a session, not the pooler)")
    max_conn = None
    for o in postgres:
        args = " ".join(pod_containers(o)[0].get("args", []))
        m = re.search(r"max_connections=(\d+)", args)
        if not m:
            problems.append("Postgres StatefulSet: no explicit -c max_connections=N")
        else:
            max_conn = int(m.group(1))
    # The budget, recomputed from the rendering.
    cm = next((o for o in objs if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "ai-imutis-config"), None)
    per = int((cm or {}).get("data", {}).get("DB_MAX_CONNECTIONS", "5"))
    scale = sum(int(o["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"]) for o in ksvcs)
    worst = scale * per
    note = f"sum(max-scale) {scale} x DB_MAX_CONNECTIONS {per} = {worst}"
    if pooler and ini:
        limit = int(ini.get("pgbouncer.max_client_conn", "100"))
        note += f", max_client_conn {limit}"
        if worst > limit:
            problems.append(f"connection budget exceeded: {note}")
        if max_conn is not None:
            replicas = int(pooler[0]["spec"].get("replicas", 1))
            need = replicas * int(ini.get("pgbouncer.max_db_connections", "0") or 10**6) + 8
            note += f", max_connections {max_conn} >= {need}"
            if max_conn < need:
                problems.append(f"Postgres max_connections {max_conn} < {need} (PgBouncer pods x max_db_connections + 8)")
        cache = (cm or {}).get("data", {}).get("DB_STATEMENT_CACHE_CAPACITY", "100")
        if ini.get("pgbouncer.max_prepared_statements", "0") == "0" and cache != "0":
            problems.append("sqlx's statement cache is on but PgBouncer tracks no prepared statements")
    elif postgres and max_conn is not None and worst > max_conn - 8:
        problems.append(f"connection budget exceeded without a pooler: {note} > max_connections {max_conn} - 8")
    for p in problems:
        print(f"  {p}")
    print(f"database: {len(ksvcs)} function(s), {note}; {len(problems)} problem(s)")
    return 1 if problems else 0


# --- monitoring: alert rules, their promtool tests, the Grafana dashboard -------

PROMQL_KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring",
                   "group_left", "group_right", "inf", "nan", "atan2"}
# Series every Prometheus has besides what the functions export.
STANDARD_METRICS = {"up"}
# The operational endpoints every function answers (shared/src/app.rs).
OPERATIONAL_ENDPOINTS = ("/healthz", "/readyz", "/metrics")


def exported_metrics(metrics_rs):
    """The series names the functions export, read from shared/src/metrics.rs:
    counters and gauges by name, histograms as NAME_bucket/_sum/_count."""
    src = Path(metrics_rs).read_text()
    names = set()
    for kind, name in re.findall(r'\b(counter|gauge|histogram|HistogramOpts::new|Opts::new|IntGauge::new)\(\s*"(\w+)"', src):
        if kind in ("histogram", "HistogramOpts::new"):
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    if len(names) < 10:
        raise SystemExit(f"{metrics_rs}: found only {sorted(names)}; has the way metrics are declared changed?")
    return names


def promql_metric_names(expr):
    """The metric names an expression selects (strings, label matchers, ranges,
    grouping clauses, Grafana variables and function calls left out)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{[^}]*\}|\$\w+", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", s):
        if re.match(r"\s*\(", s[m.end():]) or m.group(0).lower() in PROMQL_KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def _selectors(expr, metric_prefix):
    """Label-matcher bodies of every selector of a metric starting with metric_prefix."""
    return re.findall(r"\b" + re.escape(metric_prefix) + r"\w*\s*\{([^}]*)\}", expr), \
        len(re.findall(r"\b" + re.escape(metric_prefix) + r"\w*\b", expr))


def websocket_exclusion_problems(where, expr, list_json):
    """Every selector of http_request_duration_seconds_* in expr must exclude
    (endpoint!~) every WebSocket route of the functions and no other route."""
    fns = json.loads(Path(list_json).read_text())
    ws = [r["path"] for f in fns if f.get("websocket") for r in f["routes"]]
    other = [r["path"] for f in fns if not f.get("websocket") for r in f["routes"]]
    bodies, uses = _selectors(expr, "http_request_duration_seconds")
    problems = []
    if uses and len(bodies) != uses:
        problems.append(f"{where}: a selector of http_request_duration_seconds has no label matchers (WebSocket endpoints not excluded)")
    for body in bodies:
        m = re.search(r'endpoint\s*!~\s*"((?:[^"\\]|\\.)*)"', body)
        if not m:
            problems.append(f"{where}: http_request_duration_seconds{{{body}}} does not exclude WebSocket endpoints (endpoint!~)")
            continue
        rx = re.compile(m.group(1).encode().decode("unicode_escape"))
        missed = [p for p in ws if not rx.fullmatch(p)]
        hit = [p for p in other if rx.fullmatch(p)]
        if missed:
            problems.append(f"{where}: endpoint!~\"{m.group(1)}\" lets WebSocket endpoints through: {missed}")
        if hit:
            problems.append(f"{where}: endpoint!~\"{m.group(1)}\" also drops non-WebSocket endpoints: {hit}")
    return problems


def cmd_alerts(rules_file, tests_file, monitoring_md, metrics_rs, list_json):
    known = exported_metrics(metrics_rs) | STANDARD_METRICS
    rules = yaml.safe_load(Path(rules_file).read_text())
    tests = yaml.safe_load(Path(tests_file).read_text())
    doc = Path(monitoring_md).read_text()
    headings = set(re.findall(r"^###\s+(\w+)\s*$", doc, re.M))
    problems, alerts = [], []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert")
            if not name:
                continue
            alerts.append(name)
            expr = rule.get("expr", "")
            unknown = promql_metric_names(expr) - known
            if unknown:
                problems.append(f"{name}: expr uses metrics no function exports: {sorted(unknown)}")
            for clause in re.findall(r"\bby\s*\(([^)]*)\)", expr):
                if "function" not in [c.strip() for c in clause.split(",")]:
                    problems.append(f"{name}: by ({clause}) without function")
            if not re.search(r"\bby\s*\(", expr):
                problems.append(f"{name}: no by (...) clause: the alert is not per function")
            if "http_request_duration_seconds" in expr:
                problems += websocket_exclusion_problems(name, expr, list_json)
            if rule.get("labels", {}).get("severity") not in ("critical", "warning"):
                problems.append(f"{name}: severity label must be critical or warning")
            if not rule.get("for"):
                problems.append(f"{name}: no for: (a single bad evaluation would page)")
            ann = rule.get("annotations", {})
            if not ann.get("summary") or not ann.get("description"):
                problems.append(f"{name}: summary and description annotations required")
            elif f"MONITORING.md#{name.lower()}" not in ann["description"]:
                problems.append(f"{name}: description does not point at MONITORING.md#{name.lower()}")
            if name not in headings:
                problems.append(f"{name}: no '### {name}' section in {monitoring_md}")
    if len(set(alerts)) != len(alerts):
        problems.append(f"alert names repeated: {sorted(a for a in alerts if alerts.count(a) > 1)}")
    rule_files = [Path(tests_file).parent / f for f in tests.get("rule_files", [])]
    if not any(f.resolve() == Path(rules_file).resolve() for f in rule_files):
        problems.append(f"{tests_file}: rule_files does not load {rules_file}")
    firing, quiet = set(), set()
    for test in tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            name = case.get("alertname")
            if name not in alerts:
                problems.append(f"test '{test.get('name')}': alert {name} is not in {rules_file}")
            (firing if case.get("exp_alerts") else quiet).add(name)
    for name in alerts:
        if name not in firing:
            problems.append(f"{name}: no test case makes it fire")
        if name not in quiet:
            problems.append(f"{name}: no test case keeps it quiet")
    for p in problems:
        print(f"  {p}")
    print(f"alerts: {len(alerts)} alert(s), {len(firing & set(alerts))} with a firing case, "
          f"{len(quiet & set(alerts))} with a quiet case; {len(problems)} problem(s)")
    return 1 if problems else 0


DASHBOARD_DS = {"type": "prometheus", "uid": "${datasource}"}


def _all_panels(panels):
    for p in panels:
        yield p
        yield from _all_panels(p.get("panels", []))


def cmd_dashboard(dashboard_json, metrics_rs, list_json, *opts):
    """Offline checks of the Grafana dashboard; --rules-out FILE writes every
    expression as a recording rule (Grafana variables substituted) for
    `promtool check rules`."""
    known = exported_metrics(metrics_rs) | STANDARD_METRICS
    problems = []
    try:
        dash = json.loads(Path(dashboard_json).read_text())
    except (OSError, ValueError) as e:
        print(f"  {dashboard_json}: {e}")
        return 1
    for key in ("uid", "title", "panels", "templating"):
        if not dash.get(key):
            problems.append(f"dashboard has no {key}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no template variable 'datasource' of type datasource querying prometheus")
    fn = variables.get("function")
    if not fn or fn.get("datasource") != DASHBOARD_DS:
        problems.append("no template variable 'function' on the ${datasource} data source")
    ids, exprs = [], []
    for panel in _all_panels(dash.get("panels", [])):
        title = (panel.get("title") or "").strip()
        where = f"panel {panel.get('id')} '{title}'"
        ids.append(panel.get("id"))
        if not title:
            problems.append(f"{where}: no title")
        if "gridPos" not in panel:
            problems.append(f"{where}: no gridPos")
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != DASHBOARD_DS:
            problems.append(f"{where}: datasource {panel.get('datasource')!r}, expected {DASHBOARD_DS}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        for t in targets:
            expr = (t.get("expr") or "").strip()
            tw = f"{where} target {t.get('refId')}"
            if t.get("datasource", DASHBOARD_DS) != DASHBOARD_DS:
                problems.append(f"{tw}: datasource {t.get('datasource')!r}, expected {DASHBOARD_DS}")
            if not expr:
                problems.append(f"{tw}: no expr")
                continue
            exprs.append((tw, expr))
            unknown = promql_metric_names(expr) - known
            if unknown:
                problems.append(f"{tw}: metrics no function exports: {sorted(unknown)}")
            if "$function" not in expr:
                problems.append(f"{tw}: does not filter by $function")
            problems += websocket_exclusion_problems(tw, expr, list_json)
    dupes = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if dupes or None in ids:
        problems.append(f"panel ids missing or repeated: {dupes}")
    if opts[:1] == ("--rules-out",) and len(opts) == 2:
        rules = [{"record": f"dashboard:expr_{i}",
                  "expr": e.replace("$__rate_interval", "5m").replace("$__interval", "1m")
                           .replace("$__range", "1h").replace("$function", ".*")}
                 for i, (_, e) in enumerate(exprs)]
        Path(opts[1]).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    for p in problems:
        print(f"  {p}")
    print(f"dashboard '{dash.get('title')}': {len(ids)} panel(s), {len(exprs)} expression(s); {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_expect_dashboard(file, dashboard_json, *opts):
    """The rendering has one ConfigMap labelled grafana_dashboard: "1" carrying
    dashboard_json (parsed equal); with --absent, none."""
    cms = [o for o in load_docs([file]) if o.get("kind") == "ConfigMap"
           and (o["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    if opts == ("--absent",):
        print(f"dashboard ConfigMaps: {[c['metadata']['name'] for c in cms]} (expected none)")
        return 1 if cms else 0
    want = json.loads(Path(dashboard_json).read_text())
    problems = []
    if len(cms) != 1:
        problems.append(f"{len(cms)} ConfigMap(s) labelled grafana_dashboard: \"1\", expected 1")
    for cm in cms:
        data = cm.get("data") or {}
        if len(data) != 1 or not next(iter(data)).endswith(".json"):
            problems.append(f"ConfigMap {cm['metadata']['name']}: data keys {list(data)}, expected one *.json")
            continue
        try:
            got = json.loads(next(iter(data.values())))
        except ValueError as e:
            problems.append(f"ConfigMap {cm['metadata']['name']}: not JSON: {e}")
            continue
        if got != want:
            problems.append(f"ConfigMap {cm['metadata']['name']}: dashboard differs from {dashboard_json}")
    for p in problems:
        print(f"  {p}")
    print(f"dashboard ConfigMap: {[c['metadata']['name'] for c in cms]}; {len(problems)} problem(s)")
    return 1 if problems else 0


# --- Knative's admission webhook, offline ----------------------------------------

# Each rule as Knative v1.23 applies it; the ids appear in the messages and in
# scripts/validate-deploy's negative cases.
ADMISSION_RULES = {
    "timeout": "timeoutSeconds in [0, max-revision-timeout-seconds] (revision_validation.go validateTimeoutSeconds)",
    "timeout-order": "responseStartTimeoutSeconds and idleTimeoutSeconds within timeoutSeconds (queue-proxy: a longer one never fires; ours)",
    "response-start-default": "timeoutSeconds > 300 without responseStartTimeoutSeconds: Knative defaults it to 300 (revision_defaults.go)",
    "concurrency": "containerConcurrency in [0, 1000] (container-concurrency-max-limit)",
    "readiness-zero-period": "readinessProbe with periodSeconds 0 (Knative's aggressive probing) may not set timeoutSeconds or failureThreshold (k8s_validation.go validateReadinessProbe)",
    "readiness-bounds": "readinessProbe periodSeconds >= 0, initialDelaySeconds >= 0, successThreshold >= 1, and with periodSeconds > 0 timeoutSeconds >= 1, failureThreshold >= 1 (after defaulting)",
    "probe-handler": "every probe has exactly one of httpGet, tcpSocket, exec, grpc; a named probe port must be the container port's name",
    "containers": "one serving container, not named queue-proxy, with at most one port, named '', http1 or h2c, TCP, not a reserved port (8008, 8012, 8013, 8022, 9090, 9091)",
    "env": "no reserved variable (PORT, K_SERVICE, K_CONFIGURATION, K_REVISION); valueFrom only secretKeyRef or configMapKeyRef (fieldRef needs kubernetes.podspec-fieldref); envFrom names configMapRef or secretRef",
    "mounts": "no volume mounted at /, /dev or /dev/log",
    "scale-bounds": "min-scale, max-scale integers >= 0, max-scale >= min-scale unless 0; activation-scale >= 2 within [min-scale, max-scale]",
    "scale-floats": "target >= 0.01, target-utilization-percentage in [1, 100], panic-window-percentage in [1, 100], panic-threshold-percentage in [110, 1000], target-burst-capacity >= 0 or -1",
    "scale-durations": "window in [6s, 1h] at second precision; scale-down-delay in [0, 1h] at second precision; scale-to-zero-pod-retention-period in [0, 1h]",
    "metric": "metric concurrency or rps under the KPA class (the default); class *.knative.dev only kpa or hpa",
    "initial-scale": "initial-scale an integer >= 1 (allow-zero-initial-scale is false by default)",
    "traffic": "traffic percents in [0, 100] summing to 100; latestRevision true without revisionName, else revisionName; tags unique",
}

_DUR = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_duration(v):
    """Seconds of a Go time.ParseDuration string, or None when it does not parse."""
    if not isinstance(v, str):
        return None
    text = v[1:] if v[:1] in "+-" else v
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        return None
    return -total if v.startswith("-") else total


def _int(v):
    try:
        return int(str(v), 10)
    except ValueError:
        return None


def _float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


RESERVED_PORTS = {8008, 8012, 8013, 8022, 9090, 9091}
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
AS = "autoscaling.knative.dev/"


def admission_problems(svc, max_timeout=600):
    """(rule, message) for everything Knative's webhook would refuse in one Service."""
    out = []
    def bad(rule, msg):
        out.append((rule, msg))
    tmpl = (svc.get("spec") or {}).get("template") or {}
    spec = tmpl.get("spec") or {}
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    t = spec.get("timeoutSeconds")
    if t is not None and (t < 0 or t > max_timeout):
        bad("timeout", f"timeoutSeconds {t} outside [0, {max_timeout}] (max-revision-timeout-seconds)")
    for k in ("responseStartTimeoutSeconds", "idleTimeoutSeconds"):
        v = spec.get(k)
        if v is not None and (v < 0 or (t and v > t)):
            bad("timeout-order", f"{k} {v} outside [0, timeoutSeconds {t}]")
    if (t or 300) > 300 and spec.get("responseStartTimeoutSeconds") is None:
        bad("response-start-default", f"timeoutSeconds {t} and no responseStartTimeoutSeconds: Knative sets 300")
    cc = spec.get("containerConcurrency")
    if cc is not None and not 0 <= cc <= 1000:
        bad("concurrency", f"containerConcurrency {cc} outside [0, 1000]")
    containers = spec.get("containers") or []
    if len(containers) != 1:
        bad("containers", f"{len(containers)} containers (one serving container expected)")
    nports = sum(len(c.get("ports") or []) for c in containers)
    if nports > 1:
        bad("containers", "more than one container port is set")
    for c in containers:
        ports = c.get("ports") or []
        port = ports[0] if ports else {}
        if c.get("name") == "queue-proxy":
            bad("containers", "container name queue-proxy is reserved")
        if port:
            if port.get("name", "") not in ("", "http1", "h2c"):
                bad("containers", f"port name {port.get('name')!r} not '', http1 or h2c")
            if port.get("containerPort") in RESERVED_PORTS:
                bad("containers", f"containerPort {port.get('containerPort')} is reserved")
            if port.get("protocol", "TCP") != "TCP":
                bad("containers", f"protocol {port.get('protocol')} (TCP only)")
        port_name = port.get("name") or "http"
        for e in c.get("env") or []:
            if e.get("name") in RESERVED_ENV:
                bad("env", f"{e.get('name')} is a reserved environment variable")
            vf = e.get("valueFrom") or {}
            if set(vf) - {"secretKeyRef", "configMapKeyRef"}:
                bad("env", f"env {e.get('name')}: valueFrom {sorted(vf)} (only secretKeyRef, configMapKeyRef without feature flags)")
        for ef in c.get("envFrom") or []:
            if not ({"configMapRef", "secretRef"} & set(ef)):
                bad("env", "envFrom without configMapRef or secretRef")
        for vm in c.get("volumeMounts") or []:
            if vm.get("mountPath", "").rstrip("/") in ("", "/dev", "/dev/log"):
                bad("mounts", f"mountPath {vm.get('mountPath')} is reserved")
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            p = c.get(kind)
            if p is None:
                continue
            handlers = [h for h in ("httpGet", "tcpSocket", "exec", "grpc") if h in p]
            if len(handlers) != 1:
                bad("probe-handler", f"{kind}: handlers {handlers} (exactly one)")
            for h in ("httpGet", "tcpSocket"):
                pp = (p.get(h) or {}).get("port")
                if isinstance(pp, str) and pp != port_name:
                    bad("probe-handler", f"{kind}.{h}.port {pp!r} must match the container port {port_name!r}")
        rp = c.get("readinessProbe")
        if rp is not None:
            period = rp.get("periodSeconds", 0)
            if period < 0 or rp.get("initialDelaySeconds", 0) < 0 or rp.get("successThreshold", 0) < 0:
                bad("readiness-bounds", f"readinessProbe {rp}")
            if period == 0:
                for k in ("timeoutSeconds", "failureThreshold"):
                    if rp.get(k, 0) != 0:
                        bad("readiness-zero-period", f"readinessProbe.{k} is disallowed when periodSeconds is zero")
            else:
                if rp.get("timeoutSeconds", 1) < 1 or rp.get("failureThreshold", 3) < 1:
                    bad("readiness-bounds", f"readinessProbe timeoutSeconds/failureThreshold < 1: {rp}")
    # Autoscaling annotations (KPA unless the class says otherwise).
    cls = ann.get(AS + "class", "kpa.autoscaling.knative.dev")
    if cls.endswith(".knative.dev") and cls not in ("kpa.autoscaling.knative.dev", "hpa.autoscaling.knative.dev"):
        bad("metric", f"class {cls}")
    mn = _int(ann.get(AS + "min-scale", "0"))
    mx = _int(ann.get(AS + "max-scale", "0"))
    if mn is None or mn < 0 or mn > 2**31 - 1:
        bad("scale-bounds", f"min-scale {ann.get(AS + 'min-scale')!r}")
    if mx is None or mx < 0 or mx > 2**31 - 1:
        bad("scale-bounds", f"max-scale {ann.get(AS + 'max-scale')!r}")
    if mn is not None and mx and mx < mn:
        bad("scale-bounds", f"max-scale={mx} is less than min-scale={mn}")
    if AS + "activation-scale" in ann:
        act = _int(ann[AS + "activation-scale"])
        if act is None or act < 2 or (mn is not None and act < mn) or (mx and act > mx):
            bad("scale-bounds", f"activation-scale {ann[AS + 'activation-scale']!r} (>= 2, within min/max-scale)")
    for key, lo, hi in (("target", 0.01, None), ("target-utilization-percentage", 1, 100),
                        ("panic-window-percentage", 1, 100), ("panic-threshold-percentage", 110, 1000)):
        if AS + key in ann:
            v = _float(ann[AS + key])
            if v is None or v < lo or (hi is not None and v > hi):
                bad("scale-floats", f"{key} {ann[AS + key]!r} outside [{lo}, {hi if hi is not None else 'inf'}]")
    if AS + "target-burst-capacity" in ann:
        v = _float(ann[AS + "target-burst-capacity"])
        if v is None or (v < 0 and v != -1):
            bad("scale-floats", f"target-burst-capacity {ann[AS + 'target-burst-capacity']!r}")
    for key, lo, whole in (("window", 6, True), ("scale-down-delay", 0, True), ("scale-to-zero-pod-retention-period", 0, False)):
        if AS + key in ann:
            d = go_duration(ann[AS + key])
            if d is None or d < lo or d > 3600 or (whole and abs(d - round(d)) > 1e-9):
                bad("scale-durations", f"{key} {ann[AS + key]!r} (in [{lo}s, 1h]{', whole seconds' if whole else ''})")
    metric = ann.get(AS + "metric")
    if metric is not None and cls == "kpa.autoscaling.knative.dev" and metric not in ("concurrency", "rps"):
        bad("metric", f"metric {metric!r} under KPA (concurrency or rps)")
    if AS + "initial-scale" in ann:
        v = _int(ann[AS + "initial-scale"])
        if v is None or v < 1:
            bad("initial-scale", f"initial-scale {ann[AS + 'initial-scale']!r} (>= 1; 0 needs allow-zero-initial-scale)")
    traffic = (svc.get("spec") or {}).get("traffic")
    if traffic is not None:
        total, tags = 0, []
        for tt in traffic:
            pc = tt.get("percent", 0)
            if not 0 <= pc <= 100:
                bad("traffic", f"percent {pc} outside [0, 100]")
            total += pc
            if tt.get("latestRevision") is True and tt.get("revisionName"):
                bad("traffic", "latestRevision true with a revisionName")
            if tt.get("latestRevision") is not True and not tt.get("revisionName"):
                bad("traffic", "a target needs revisionName or latestRevision: true")
            if tt.get("tag"):
                tags.append(tt["tag"])
        if total != 100:
            bad("traffic", f"traffic targets sum to {total}, want 100")
        if len(tags) != len(set(tags)):
            bad("traffic", f"tags repeated: {tags}")
    return out


def cmd_admission(*args):
    args = list(args)
    max_timeout = 600
    if args[:1] == ["--max-revision-timeout"]:
        max_timeout = int(args[1])
        args = args[2:]
    n, problems = 0, []
    for obj in load_docs(args):
        if group_of(obj) != "serving.knative.dev" or obj.get("kind") != "Service":
            continue
        n += 1
        for rule, msg in admission_problems(obj, max_timeout):
            problems.append(f"{obj['metadata']['name']}: [{rule}] {msg}")
    if n == 0:
        problems.append("no Knative Service found")
    for p in problems:
        print(f"  {p}")
    print(f"admission (Knative v1.23, max-revision-timeout-seconds {max_timeout}): {n} Service(s), "
          f"{len(ADMISSION_RULES)} rules; {len(problems)} refused")
    return 1 if problems else 0


# --- least privilege: secrets ------------------------------------------------------

BASE_SECRET_KEYS = ["DATABASE_URL", "REDIS_URL", "SENTRY_DSN"]


def _secret_keys(container):
    keys = [e["name"] for e in container.get("env", [])
            if "secretKeyRef" in (e.get("valueFrom") or {})]
    whole = [ef["secretRef"].get("name") for ef in container.get("envFrom", []) if "secretRef" in ef]
    return keys, whole


def cmd_secrets(list_json, file):
    fns = {f["name"]: f for f in json.loads(Path(list_json).read_text())}
    objs = load_docs([file])
    problems, n = [], 0
    for o in objs:
        if o.get("kind") == "Service" and group_of(o) == "serving.knative.dev":
            n += 1
            name = o["metadata"]["name"]
            keys, whole = _secret_keys(o["spec"]["template"]["spec"]["containers"][0])
            want = BASE_SECRET_KEYS + list(fns.get(name, {}).get("secrets", []))
            if whole:
                problems.append(f"function {name}: the whole Secret {whole} through envFrom")
            if sorted(keys) != sorted(want):
                problems.append(f"function {name}: secret keys {sorted(keys)}, its manifest allows {sorted(want)}")
            if "DATABASE_DIRECT_URL" in keys:
                problems.append(f"function {name}: DATABASE_DIRECT_URL (the owner's connection)")
        elif o.get("kind") in ("Job", "CronJob") and o["metadata"]["name"].startswith("ai-imutis-") \
                and "migrate" in pod_containers(o)[0].get("image", ""):
            keys, whole = _secret_keys(pod_containers(o)[0])
            if whole or keys != ["DATABASE_URL"]:
                problems.append(f"{o['kind']} {o['metadata']['name']}: secret keys {keys} + envFrom {whole}, expected DATABASE_URL only")
    for p in problems:
        print(f"  {p}")
    print(f"secrets: {n} function(s); {len(problems)} problem(s)")
    return 1 if problems else 0


COMMANDS = {
    "secrets": cmd_secrets,
    "admission": cmd_admission,
    "refgrant": cmd_refgrant,
    "database": cmd_database,
    "expect-websocket": cmd_expect_websocket,
    "crd": cmd_crd,
    "split": cmd_split,
    "routes": cmd_routes,
    "compare": cmd_compare,
    "expect-concurrency": cmd_expect_concurrency,
    "count-functions": cmd_count_functions,
    "alerts": cmd_alerts,
    "dashboard": cmd_dashboard,
    "expect-dashboard": cmd_expect_dashboard,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]))
