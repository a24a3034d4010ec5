"""Every limit the OpenAPI document states in prose ("1 to 20", "at most 280
characters") is also a schema keyword that generated clients can check, and
the two agree. Run by scripts/check-openapi."""
import json
import re
import sys

doc = json.load(open(sys.argv[1]))
problems = []


def check(where, prop):
    desc = prop.get("description", "")
    if prop.get("type") == "boolean" or "$ref" in prop:
        return
    m = re.search(r"(?<![\w.])(-?\d+(?:\.\d+)?) to (-?\d+(?: \d{3})*(?:\.\d+)?)( characters)?", desc)
    if m and not re.search(r"at most \d+, each", desc):
        lo, hi = float(m.group(1)), float(m.group(2).replace(" ", ""))
        low, high = ("minLength", "maxLength") if m.group(3) else ("minimum", "maximum")
        if prop.get(low) != lo or prop.get(high) != hi:
            problems.append(f"{where}: says {lo:g} to {hi:g}, {low}/{high} {prop.get(low)}/{prop.get(high)}")
    m = re.search(r"(?<!each )[Aa]t most (\d+) characters", desc)
    if m and "JSON" not in desc and prop.get("maxLength") != int(m.group(1)):
        problems.append(f"{where}: says at most {m.group(1)} characters, maxLength {prop.get('maxLength')}")
    m = re.search(r"at most (\d+), each", desc)
    if m and prop.get("maxItems") != int(m.group(1)):
        problems.append(f"{where}: says at most {m.group(1)} items, maxItems {prop.get('maxItems')}")


for name, schema in doc.get("components", {}).get("schemas", {}).items():
    for field, prop in (schema.get("properties") or {}).items():
        check(f"{name}.{field}", prop)
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        for param in op.get("parameters", []) if isinstance(op, dict) else []:
            merged = dict(param.get("schema", {}), description=param.get("description", ""))
            check(f"{method.upper()} {path} ?{param['name']}", merged)

if problems:
    print("limits in prose without matching schema keywords:", *problems, sep="\n  ")
    sys.exit(1)
print("every limit stated in prose is a schema keyword")
