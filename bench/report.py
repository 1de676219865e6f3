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


def secs(x, spec):
    return "–" if x is None else format(x, spec) + " s"


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


# Issue 13's targets for the rebuild after a spec change: at 10 resources
# openapi-generator's crate alone (its figure in the same run, else the
# 12.5 s of run 20261129T132441Z that the issue quotes), at 100 resources 40 s.
OG_CRATE_10_ISSUE = 12.5
REBUILD_100_TARGET = 40.0


def build(out, lines):
    data = rows(out / "build.tsv")
    if not data:
        return
    lock = {(r["tool"], int(r["resources"])): int(r["lock_crates"]) for r in rows(out / "lock.tsv")}
    cells = {}
    for r in data:
        cells.setdefault((r["tool"], r["what"], int(r["resources"])), []).append(float(r["wall_s"]))
    tools = list(dict.fromkeys(r["tool"] for r in data))

    def m(tool, what, n):
        return med(cells.get((tool, what, n), []))

    def runs(tool, what, n):
        return len(cells.get((tool, what, n), []))

    lines.append("### Building the generated code\n")
    lines.append("`cargo build --release` in the project: with an empty target directory (crates already "
                 "downloaded); after the generated code's sources are touched (dependencies built; "
                 "\"generated code alone\"); and, for palisade, after `palisade generate` over the built "
                 "project with one field added to one resource, or removed again (\"spec change\"; "
                 "generate's own time not included). Medians.\n")
    lines.append("| tool | Cargo.lock crates | cold build, 10 resources | generated code alone, 10 | "
                 "generated code alone, 100 | spec change, 10 | spec change, 100 | runs per cell |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for tool in tools:
        c, a10, a100, s10, s100 = (m(tool, w, n) for w, n in (
            ("cold_build", 10), ("crate_only", 10), ("crate_only", 100),
            ("rebuild_after_spec_change", 10), ("rebuild_after_spec_change", 100)))
        reps = sorted({runs(tool, w, n) for w in ("crate_only", "rebuild_after_spec_change")
                       for n in (10, 100) if runs(tool, w, n)})
        lines.append(f"| {tool} | {lock.get((tool, 10), '–')} | {secs(c, '.0f')} | {secs(a10, '.1f')} | "
                     f"{secs(a100, '.1f')} | {secs(s10, '.1f')} | {secs(s100, '.1f')} | "
                     f"{' / '.join(map(str, reps)) or '–'} |")
    og = m("openapi-generator", "crate_only", 10), m("openapi-generator", "crate_only", 100)
    if "palisade" in tools and og[0] is not None:
        p = m("palisade", "cold_build", 10), m("palisade", "crate_only", 10), m("palisade", "crate_only", 100)
        o = m("openapi-generator", "cold_build", 10)
        lines.append(f"\nopenapi-generator / palisade: cold build {ratio(o, p[0], '.2f')}×, generated code alone "
                     f"{ratio(og[0], p[1], '.2f')}× at 10 and {ratio(og[1], p[2], '.2f')}× at 100 resources. "
                     "openapi-generator's crate is a library of routes, models and an `Api` trait to implement "
                     "(no database, no authentication); palisade's is the whole server.")
    gen = {n: m("palisade", "spec_change_generate", n) for n in (10, 100)}
    if any(v is not None for v in gen.values()):
        lines.append("\n`palisade generate` over the project, before each spec-change build (not in its figure): "
                     + "; ".join(f"{fmt(v * 1e3 if v is not None else None, '.0f')} ms at {n}"
                                 for n, v in gen.items()) + ".")
    lines.append("")

    compiled = rows(out / "compiled.tsv")
    if compiled:
        what_names = {"cold_build": "cold build", "crate_only": "generated code alone",
                      "first_build": "first build of the 100-resource project (untimed as a figure)",
                      "rebuild_after_spec_change": "spec change", "spec_change_timings": "spec change with --timings"}
        seen = {}
        for r in compiled:
            pk = r["packages"].split()
            summary = f"{len(pk)} packages" if len(pk) > 8 else (", ".join(f"`{x}`" for x in pk) or "nothing")
            seen.setdefault((r["tool"], r["what"], r["resources"]), []).append(summary)
        lines.append("What cargo compiled in each build (its `Compiling` lines; `compiled.tsv`):\n")
        for (tool, what, n), sums in seen.items():
            same = all(x == sums[0] for x in sums)
            lines.append(f"- {tool}, {what_names.get(what, what)}, {n} resources: "
                         + (sums[0] + (f" (each of {len(sums)} builds)" if len(sums) > 1 else "") if same
                            else "; ".join(sums)))
        lines.append("")

    s10, s100 = m("palisade", "rebuild_after_spec_change", 10), m("palisade", "rebuild_after_spec_change", 100)
    if s10 is not None or s100 is not None:
        lines.append("| target (issue 13) | measured | |")
        lines.append("|---|---:|---|")
        if og[0] is not None:
            bound, whose = og[0], f"openapi-generator's crate alone in this run, {og[0]:.1f} s"
        else:
            bound, whose = OG_CRATE_10_ISSUE, ("openapi-generator's crate alone as the issue quotes it, "
                                               f"{OG_CRATE_10_ISSUE} s (run 20261129T132441Z; "
                                               "openapi-generator not in this run)")
        if s10 is not None:
            lines.append(f"| rebuild after a spec change, 10 resources, at most {whose} | {s10:.1f} s | "
                         f"{meets(s10 <= bound)} |")
        if s100 is not None:
            lines.append(f"| rebuild after a spec change, 100 resources, at most {REBUILD_100_TARGET:.0f} s | "
                         f"{s100:.1f} s | {meets(s100 <= REBUILD_100_TARGET)} |")
        lines.append("")
    for html in sorted(out.glob("timings-*.html")):
        timings(html, lines)


def timings(html, lines):
    """The crates compiled in one `cargo build --timings` report: when each
    started, how long it took, and for a library its front end (parsing,
    macro expansion, type and borrow checking, until its metadata is
    ready) and its code generation (monomorphization, LLVM, object files);
    a binary is one section (its code generation and its link)."""
    units = [u for u in unit_data(html.read_text()) if u["duration"] > 0]
    if not units:
        return
    tool, _, n = html.stem.removeprefix("timings-").rpartition("-")
    end = max(u["start"] + u["duration"] for u in units)
    lines.append(f"`cargo build --release --timings` of one more spec change ({tool}, {n} resources, "
                 f"`{html.name}`): {end:.1f} s in all, the crates it compiled:\n")
    lines.append("| crate | target | starts at | takes | front end | code generation |")
    lines.append("|---|---|---:|---:|---:|---:|")
    for u in sorted(units, key=lambda u: u["start"]):
        sections = dict(u.get("sections") or [])
        front, gen = sections.get("frontend"), sections.get("codegen")
        target = (u.get("target") or "").strip().replace('"', "") or "lib"
        lines.append(f"| {u['name']} | {target} | {u['start']:.1f} s | {u['duration']:.1f} s | "
                     f"{secs(front and front['end'] - front['start'], '.1f')} | "
                     f"{secs(gen and gen['end'] - gen['start'], '.1f')} |")
    lines.append("")


def unit_data(text):
    """UNIT_DATA, the JSON array cargo writes into its timings page."""
    import json
    key = "const UNIT_DATA = "
    if key not in text:
        return []
    rest = text.split(key, 1)[1]
    return json.JSONDecoder().raw_decode(rest)[0]


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
    # The PostgreSQL servers have tables of their own (postgres() below).
    variants = [lb for lb in labels if lb.startswith("palisade") and lb != "palisade"
                and not lb.startswith("palisade-pg")]
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
    postgres(labels, conns, m, lines)
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


def pair_table(a, b, conns, m, lines):
    """One row per scenario and connection count: a's and b's medians."""
    lines.append(f"| scenario | conns | {a} req/s | {b} req/s | {a} / {b} | {a} p99 ms | {b} p99 ms |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for c in conns:
        for sc in SCEN:
            x, y = m(a, sc, c, "rps"), m(b, sc, c, "rps")
            if x is None and y is None:
                continue
            lines.append(f"| {sc} | {c} | {fmt(x, ',.0f')} | {fmt(y, ',.0f')} | {ratio(x, y, '.2f')} | "
                         f"{fmt(m(a, sc, c, 'p99_ms'), '.1f')} | {fmt(m(b, sc, c, 'p99_ms'), '.1f')} |")
    lines.append("")


# Costs measured as the difference of two servers that differ in one thing:
# (what, the server with it, the server without it).
COSTS = (
    ("row-level security (set_config round trip, role switch, policies)", "palisade-pg", "palisade-pg-norls"),
    ("row-level security and its request transaction (also BEGIN, COMMIT)", "palisade-pg", "palisade-pg-notx"),
    ("the Redis limiter instead of the in-memory one (SQLite)", "palisade-redis", "palisade"),
)


def postgres(labels, conns, m, lines):
    """The PostgreSQL figures (issue 16), each table only when its servers ran."""
    if "palisade-pg" in labels and "ceiling-pg" in labels:
        lines.append("On PostgreSQL: the generated server (`palisade-pg`) against the hand-written ceiling in its "
                     "secure mode on PostgreSQL (`ceiling-pg`, bench/ceiling-postgres.patch), medians:\n")
        pair_table("palisade-pg", "ceiling-pg", conns, m, lines)
    if "palisade-pg" in labels and "palisade-pg-2" in labels:
        lines.append("Two replicas of the generated server on one PostgreSQL database and one machine "
                     "(`palisade-pg-2`) against one (`palisade-pg`): each replica is loaded by its own wrk with "
                     "half the connections and half the threads; req/s is the sum of the two, p99 the higher "
                     "of the two:\n")
        pair_table("palisade-pg-2", "palisade-pg", conns, m, lines)
    costs = [c for c in COSTS if c[1] in labels and c[2] in labels]
    if costs:
        lines.append("What one layer costs per request: 1e6 / req/s with it − 1e6 / req/s without it, in µs "
                     "(the machine's time per request at saturation, both cores; medians; a negative figure "
                     "is within the noise):\n")
        lines.append("| layer | with | without | scenario | conns | req/s with | req/s without | µs per request |")
        lines.append("|---|---|---|---|---:|---:|---:|---:|")
        for what, with_, without in costs:
            for c in conns:
                for sc in SCEN:
                    x, y = m(with_, sc, c, "rps"), m(without, sc, c, "rps")
                    if not x or not y:
                        continue
                    lines.append(f"| {what} | {with_} | {without} | {sc} | {c} | {x:,.0f} | {y:,.0f} | "
                                 f"{1e6 / x - 1e6 / y:,.1f} |")
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
