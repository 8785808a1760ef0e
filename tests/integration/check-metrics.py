#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A strict checker of the Prometheus text exposition format, version 0.0.4.

Reads an exposition on stdin; prints every problem with its line number and
exits 1 if there is any.  Stricter than a scraper on purpose: besides the
syntax (metric and label names, label escapes, values, line ends) it wants
a HELP and a TYPE line for every family before its samples, the samples of
a family together, no series twice, counters and histogram figures that are
not negative, and histograms that hold together (le labels that parse and
grow, cumulative buckets, a +Inf bucket equal to _count, _sum and _count
present).  Used by tests/integration/test-metrics-*.sh.
"""
import math
import re
import sys

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Problems:
    def __init__(self):
        self.list = []

    def add(self, lineno, message):
        self.list.append(f"line {lineno}: {message}")


def parse_value(text):
    """A sample value: a Go float, or +Inf, -Inf, NaN.  None if invalid."""
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return None
    return float(text)


def parse_labels(text, pos, lineno, problems):
    """Parses '{a="b",c="d"}' from text[pos] == '{'.  Returns (dict, end)."""
    labels = {}
    pos += 1
    while True:
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        m = LABEL_NAME.match(text, pos)
        if not m:
            problems.add(lineno, f"bad label name at column {pos + 1}")
            return None, pos
        name = m.group(0)
        if name.startswith("__"):
            problems.add(lineno, f"label name {name} is reserved")
        pos = m.end()
        if text[pos:pos + 2] != '="':
            problems.add(lineno, f"label {name}: expected =\" at column {pos + 1}")
            return None, pos
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                problems.add(lineno, f"label {name}: unterminated value")
                return None, pos
            c = text[pos]
            if c == "\\":
                esc = text[pos + 1:pos + 2]
                if esc not in ("\\", '"', "n"):
                    problems.add(lineno, f"label {name}: bad escape \\{esc}")
                    return None, pos
                value.append("\n" if esc == "n" else esc)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                problems.add(lineno, f"label {name}: raw newline in the value")
                return None, pos
            else:
                value.append(c)
                pos += 1
        if name in labels:
            problems.add(lineno, f"label {name} given twice")
        labels[name] = "".join(value)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "}":
            continue
        else:
            problems.add(lineno, f"expected , or }} at column {pos + 1}")
            return None, pos


def family_of(name, types):
    """The family a sample name belongs to, given the TYPE lines seen."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                return base
    return name


def check(lines):
    problems = Problems()
    helps, types = {}, {}
    seen_series = set()
    families_done = set()
    current = None
    samples = {}  # family -> [(name, labels, value, lineno)]

    for lineno, raw in enumerate(lines, 1):
        if not raw.endswith("\n"):
            problems.add(lineno, "the last line does not end with a newline")
        line = raw.rstrip("\n")
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not METRIC_NAME.fullmatch(parts[2]):
                    problems.add(lineno, f"{parts[1]} without a valid metric name")
                    continue
                name = parts[2]
                if name in samples or name in families_done:
                    problems.add(lineno, f"{parts[1]} for {name} after its samples")
                if parts[1] == "HELP":
                    if name in helps:
                        problems.add(lineno, f"second HELP for {name}")
                    helps[name] = parts[3] if len(parts) > 3 else ""
                    if not helps[name]:
                        problems.add(lineno, f"empty HELP for {name}")
                else:
                    if name in types:
                        problems.add(lineno, f"second TYPE for {name}")
                    if len(parts) < 4 or parts[3] not in TYPES:
                        problems.add(lineno, f"TYPE of {name} is not one of {sorted(TYPES)}")
                    types[name] = parts[3] if len(parts) > 3 else "?"
            continue
        m = METRIC_NAME.match(line)
        if not m:
            problems.add(lineno, "a sample must start with a metric name")
            continue
        name, pos, labels = m.group(0), m.end(), {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, lineno, problems)
            if labels is None:
                continue
        rest = line[pos:]
        if not rest.startswith(" "):
            problems.add(lineno, "expected a space before the value")
            continue
        fields = rest.split(" ")[1:]
        if len(fields) not in (1, 2) or parse_value(fields[0]) is None:
            problems.add(lineno, f"bad value or timestamp: {rest.strip()!r}")
            continue
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            problems.add(lineno, f"bad timestamp {fields[1]!r}")
        value = parse_value(fields[0])
        family = family_of(name, types)
        if family not in types:
            problems.add(lineno, f"{name}: no TYPE line before its first sample")
        if family not in helps:
            problems.add(lineno, f"{name}: no HELP line before its first sample")
        if family != current:
            if family in families_done or family in samples:
                problems.add(lineno, f"the samples of {family} are not together")
            if current is not None:
                families_done.add(current)
            current = family
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            problems.add(lineno, f"series {name}{labels} given twice")
        seen_series.add(key)
        kind = types.get(family)
        if kind == "counter" and not (value >= 0):
            problems.add(lineno, f"counter {name} is negative or NaN")
        if kind == "histogram" and name == family:
            problems.add(lineno, f"histogram {family}: sample without _bucket/_sum/_count")
        samples.setdefault(family, []).append((name, labels, value, lineno))

    for family, kind in types.items():
        if kind == "histogram":
            check_histogram(family, samples.get(family, []), problems)
    return problems.list


def check_histogram(family, samples, problems):
    groups = {}
    for name, labels, value, lineno in samples:
        other = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(other, {"buckets": [], "sum": None, "count": None, "line": lineno})
        if value < 0 or math.isnan(value):
            problems.add(lineno, f"{name} is negative or NaN")
        if name == family + "_bucket":
            if "le" not in labels or parse_value(labels["le"]) is None:
                problems.add(lineno, f"{name} without a valid le label")
                continue
            g["buckets"].append((parse_value(labels["le"]), value, lineno))
        elif name == family + "_sum":
            g["sum"] = value
        elif name == family + "_count":
            g["count"] = value
    for other, g in groups.items():
        where = f"histogram {family}{dict(other)}"
        bounds = [b[0] for b in g["buckets"]]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            problems.add(g["line"], f"{where}: le bounds not in increasing order")
        counts = [b[1] for b in g["buckets"]]
        if counts != sorted(counts):
            problems.add(g["line"], f"{where}: buckets are not cumulative")
        if not bounds or bounds[-1] != math.inf:
            problems.add(g["line"], f"{where}: no le=\"+Inf\" bucket")
        if g["count"] is None or g["sum"] is None:
            problems.add(g["line"], f"{where}: _sum or _count missing")
        elif counts and counts[-1] != g["count"]:
            problems.add(g["line"], f"{where}: the +Inf bucket is not _count")


def main():
    text = sys.stdin.read()
    if not text:
        print("check-metrics: empty exposition", file=sys.stderr)
        return 1
    problems = check(text.splitlines(keepends=True))
    for p in problems:
        print(f"check-metrics: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
