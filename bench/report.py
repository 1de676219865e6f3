#!/usr/bin/env python3
"""Turn one bench/run.sh results directory into Markdown tables.

  report.py RUN [RUN ...]                     print the report
  report.py --update BENCHMARKS.md RUN [RUN ...]  replace the text between
      <!-- bench:figures:begin --> and <!-- bench:figures:end --> with it

RUN is a results directory, optionally with the parts to take from it:
`bench/results/<stamp>:compiler,build`. Parts: compiler, build, load, layers.

Every figure is a median over the runs of its cell; ratios are of medians.
Standard library only.
"""
import csv
import statistics
import sys
from pathlib import Path

BEGIN, END = "<!-- bench:figures:begin -->", "<!-- bench:figures:end -->"


def rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(values):
    values = [float(v) for v in values if v not in ("", "NA", None)]
    return statistics.median(values) if values else None


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def ratio(a, b, spec=".1f"):
    return "–" if a is None or not b else format(a / b, spec)


def meets(ok):
    return "met" if ok else "**missed**"


def compiler(out, lines):
    data = rows(out / "compiler.tsv")
    if not data:
        return
    cells = {}
    for r in data:
        cells.setdefault((r["tool"], r["command"], int(r["resources"])), []).append(r)
    sizes = sorted({k[2] for k in cells})

    def t(tool, cmd, n):
        rs = cells.get((tool, cmd, n), [])
        return med(r["wall_s"] for r in rs), med(r["maxrss_kb"] for r in rs), len(rs)

    lines.append("### Compiler: wall time and peak memory per command\n")
    lines.append("Whole processes, as a user runs them (`palisade validate|generate|check`, "
                 "`java -jar openapi-generator.jar generate -g rust-axum`); medians; peak "
                 "memory is the process's largest resident set.\n")
    lines.append("| resources | validate | generate | check | openapi-generator | runs (palisade / openapi-generator) | openapi-generator / generate |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        v, g, c, o = (t("palisade", "validate", n), t("palisade", "generate", n),
                      t("palisade", "check", n), t("openapi-generator", "generate", n))

        def cell(x):
            if x[0] is None:
                return "–"
            wall = f"{x[0] * 1e3:.0f} ms" if x[0] < 1 else f"{x[0]:.2f} s"
            return f"{wall}, {x[1] / 1024:.0f} MiB"
        lines.append(f"| {n:,} | {cell(v)} | {cell(g)} | {cell(c)} | {cell(o)} | {g[2]} / {o[2]} | "
                     f"{ratio(o[0], g[0])}× |")
    lines.append("")
    if 100 in sizes and 1000 in sizes:
        growth = []
        for tool, cmd in (("palisade", "validate"), ("palisade", "generate"), ("palisade", "check"),
                          ("openapi-generator", "generate")):
            a, b = t(tool, cmd, 1000)[0], t(tool, cmd, 100)[0]
            if a and b:
                growth.append(f"{tool} {cmd} {a / b:.1f}")
        lines.append("Growth time(1000)/time(100) (10 is linear): " + "; ".join(growth) + ".\n")
    g100, g1000 = t("palisade", "generate", 100)[0], t("palisade", "generate", 1000)[0]
    lines.append("| target | measured | |")
    lines.append("|---|---:|---|")
    if g100 is not None:
        lines.append(f"| generate 100 resources well under 100 ms | {g100 * 1e3:.0f} ms | {meets(g100 < 0.1)} |")
    if g1000 is not None:
        lines.append(f"| generate 1,000 resources under 1 s | {g1000:.2f} s | {meets(g1000 < 1)} |")
    worst = None
    for n in sizes:
        o, g = t("openapi-generator", "generate", n)[0], t("palisade", "generate", n)[0]
        if o and g:
            worst = min(worst or 1e9, o / g)
    if worst is not None:
        lines.append(f"| at least 20× faster than openapi-generator at every size | smallest ratio {worst:.1f}× | {meets(worst >= 20)} |")
    lines.append("")

    outs = rows(out / "outputs.tsv")
    if outs:
        lines.append("### Generated Rust\n")
        lines.append("All `*.rs` files of the output (comments and blank lines included; palisade's "
                     "include the runtime module, the hooks and the generated security tests).\n")
        lines.append("| tool | resources | files | lines | lines per resource |")
        lines.append("|---|---:|---:|---:|---:|")
        by = {}
        for r in outs:
            by[(r["tool"], int(r["resources"]))] = int(r["rs_lines"])
            lines.append(f"| {r['tool']} | {int(r['resources']):,} | {int(r['rs_files']):,} | "
                         f"{int(r['rs_lines']):,} | {int(r['per_resource_lines']):,} |")
        marg = []
        for tool in ("palisade", "openapi-generator"):
            if (tool, 100) in by and (tool, 10) in by:
                marg.append(f"{tool} {(by[tool, 100] - by[tool, 10]) / 90:,.0f}")
        if marg:
            lines.append("\nLines each additional resource adds (from 10 to 100 resources): " + "; ".join(marg) + ".\n")


def build(out, lines):
    data = rows(out / "build.tsv")
    if not data:
        return
    lock = {(r["tool"], int(r["resources"])): int(r["lock_crates"]) for r in rows(out / "lock.tsv")}
    cells = {}
    for r in data:
        cells.setdefault((r["tool"], r["what"], int(r["resources"])), []).append(float(r["wall_s"]))
    tools = list(dict.fromkeys(r["tool"] for r in data))
    lines.append("### Building the generated code\n")
    lines.append("`cargo build --release` with an empty target directory (crates already downloaded), "
                 "and the generated crate alone after a change to its sources (dependencies built; "
                 "medians).\n")
    lines.append("| tool | Cargo.lock crates | cold build, 10 resources | crate alone, 10 resources | crate alone, 100 resources |")
    lines.append("|---|---:|---:|---:|---:|")
    m = {}
    for tool in tools:
        c, a10, a100 = (med(cells.get((tool, w, n), [])) for w, n in
                        (("cold_build", 10), ("crate_only", 10), ("crate_only", 100)))
        m[tool] = (c, a10, a100)
        lines.append(f"| {tool} | {lock.get((tool, 10), '–')} | {fmt(c, '.0f')} s | {fmt(a10, '.1f')} s | {fmt(a100, '.1f')} s |")
    if "palisade" in m and "openapi-generator" in m:
        p, o = m["palisade"], m["openapi-generator"]
        lines.append(f"\nopenapi-generator / palisade: cold build {ratio(o[0], p[0], '.2f')}×, crate alone "
                     f"{ratio(o[1], p[1], '.2f')}× at 10 and {ratio(o[2], p[2], '.2f')}× at 100 resources. "
                     "openapi-generator's crate is a library of routes, models and an `Api` trait to implement "
                     "(no database, no authentication); palisade's is the whole server.\n")
    lines.append("")


SCEN = ("get_one", "list", "update", "create")


def load(out, lines):
    data = rows(out / "load.tsv")
    if not data:
        return
    cells = {}
    for r in data:
        cells.setdefault((r["label"], r["scenario"], int(r["conns"])), []).append(r)
    labels = list(dict.fromkeys(r["label"] for r in data))
    conns = sorted({int(r["conns"]) for r in data})

    def m(label, sc, c, key):
        return med(r[key] for r in cells.get((label, sc, c), []))

    lines.append("### Generated server under load\n")
    lines.append("wrk on 127.0.0.1, medians of the runs of each cell; `non-2xx` and `errors` are totals "
                 "over those runs.\n")
    lines.append("| server | scenario | conns | req/s | min–max req/s | p50 ms | p99 ms | non-2xx | errors |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label in labels:
        for c in conns:
            for sc in SCEN:
                rs = cells.get((label, sc, c))
                if not rs:
                    continue
                rps = [float(r["rps"]) for r in rs]
                lines.append(f"| {label} | {sc} | {c} | {statistics.median(rps):,.0f} | {min(rps):,.0f}–{max(rps):,.0f} | "
                             f"{m(label, sc, c, 'p50_ms'):.2f} | {m(label, sc, c, 'p99_ms'):.2f} | "
                             f"{sum(int(r['non2xx']) for r in rs)} | {sum(int(r['sockerr']) for r in rs)} |")
    lines.append("")
    if "palisade" in labels:
        lines.append("Ratios of medians (req/s; p99 as DRF's over palisade's):\n")
        lines.append("| scenario | conns | palisade / ceiling-bare | palisade / ceiling-secure | palisade / DRF | p99 DRF / palisade |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        worst_ceiling, worst_drf, p99_ok = None, None, True
        for c in conns:
            for sc in SCEN:
                p = m("palisade", sc, c, "rps")
                if p is None:
                    continue
                b, s, d = m("ceiling-bare", sc, c, "rps"), m("ceiling-secure", sc, c, "rps"), m("drf-sync2", sc, c, "rps")
                pp, dp = m("palisade", sc, c, "p99_ms"), m("drf-sync2", sc, c, "p99_ms")
                if b:
                    worst_ceiling = min(worst_ceiling or 1e9, p / b)
                if d:
                    worst_drf = min(worst_drf or 1e9, p / d)
                    p99_ok = p99_ok and pp < dp
                lines.append(f"| {sc} | {c} | {ratio(p, b, '.2f')} | {ratio(p, s, '.2f')} | {ratio(p, d, '.1f')} | {ratio(dp, pp, '.1f')} |")
        lines.append("")
        lines.append("| target | measured | |")
        lines.append("|---|---:|---|")
        if worst_ceiling is not None:
            lines.append(f"| at least 90% of the hand-written ceiling (bare) in every cell | lowest {worst_ceiling:.2f} | {meets(worst_ceiling >= 0.9)} |")
        if worst_drf is not None:
            lines.append(f"| at least 20× DRF's throughput in every cell | lowest {worst_drf:.1f}× | {meets(worst_drf >= 20)} |")
            lines.append(f"| lower p99 than DRF in every cell | | {meets(p99_ok)} |")
        lines.append("")
    variants = [lb for lb in labels if lb.startswith("palisade") and lb != "palisade"]
    if variants:
        lines.append("Variants of the generated server (experiments, see `meta.txt` and the `*.patch` files of the "
                     "run), as a ratio of medians (req/s) to palisade and to ceiling-bare:\n")
        lines.append("| variant | scenario | conns | variant / palisade | variant / ceiling-bare | p99 ms palisade → variant |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for v in variants:
            for c in conns:
                for sc in SCEN:
                    x = m(v, sc, c, "rps")
                    if x is None:
                        continue
                    p, b = m("palisade", sc, c, "rps"), m("ceiling-bare", sc, c, "rps")
                    pp, vp = m("palisade", sc, c, "p99_ms"), m(v, sc, c, "p99_ms")
                    lines.append(f"| {v} | {sc} | {c} | {ratio(x, p, '.2f')} | {ratio(x, b, '.2f')} | "
                                 f"{fmt(pp, '.1f')} → {fmt(vp, '.1f')} |")
        lines.append("")
    checks = sorted(out.glob("security-*.txt"))
    if checks:
        lines.append("The peers' security checks (`harness/check_security.sh`, with bench/check-security.patch), "
                     "last line of each:\n")
        for f in checks:
            last = (f.read_text().strip().splitlines() or ["(empty)"])[-1]
            lines.append(f"- {f.stem.removeprefix('security-')}: {last}")
        lines.append("")
    rss = rows(out / "rss.tsv")
    if rss:
        phases = list(dict.fromkeys(r["phase"] for r in rss))
        lines.append("Server memory, peak resident set (VmHWM, KiB; DRF: gunicorn's master and workers added up):\n")
        lines.append("| server | " + " | ".join(phases) + " |")
        lines.append("|---|" + "---:|" * len(phases))
        by = {(r["label"], r["phase"]): int(r["vmhwm_kb"]) for r in rss}
        for label in dict.fromkeys(r["label"] for r in rss):
            lines.append(f"| {label} | " + " | ".join(f"{by[label, p]:,}" if (label, p) in by else "–" for p in phases) + " |")
        lines.append("")


def layers(out, lines):
    p = out / "layers.txt"
    if not p.exists():
        return
    lines.append("### Security layers on their own\n")
    lines.append("`cargo bench --bench layers` (palisade-runtime, the code every generated server carries):\n")
    lines.append("```")
    lines.extend(p.read_text().rstrip("\n").splitlines())
    lines.append("```\n")


PARTS = {"compiler": compiler, "build": build, "load": load, "layers": layers}


def report(runs):
    lines = []
    for spec in runs:
        path, _, parts = spec.partition(":")
        out = Path(path)
        parts = parts.split(",") if parts else list(PARTS)
        meta = (out / "meta.txt").read_text().splitlines() if (out / "meta.txt").exists() else []
        lines.append(f"Run `{out.name}` ({', '.join(parts)}):\n")
        lines.append("```")
        lines.extend(meta)
        lines.append("```\n")
        for part in parts:
            PARTS[part](out, lines)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv):
    if len(argv) >= 2 and argv[1] != "--update":
        sys.stdout.write(report(argv[1:]))
    elif len(argv) >= 4 and argv[1] == "--update":
        doc = Path(argv[2])
        text = doc.read_text()
        if BEGIN not in text or END not in text:
            sys.exit(f"{doc}: no {BEGIN} ... {END} section")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc.write_text(head + BEGIN + "\n" + report(argv[3:]) + END + tail)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
