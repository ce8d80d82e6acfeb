#!/usr/bin/env python3
"""The report of scripts/scaling-study.sh, from its runs.jsonl and allreduce.jsonl (and projection.json):

scaling.csv    ranks, hosts, link, mode, images/s, efficiency vs one rank, the step split per rank
               (compute / all-reduce / exposed communication / data wait, fastest and slowest rank)
allreduce.csv  link, ranks, bytes, seconds (median)
fit.json       per link the alpha-beta model of a ring all-reduce, t = 2(p-1)a + 2(p-1)/p n b, fitted by
               least squares; its error on the measured multi-host steps; PROJECTIONS (labelled so) of
               efficiency at 16 ... 1,024 ranks for the models in projection.json
scaling.svg    images/s and efficiency against ranks, one line per link

The step model: a rank computes for C seconds; its gradient buckets all-reduce in A(p) (the alpha-beta
sum over buckets) on a thread that overlaps backward, about 2/3 of C; what does not fit is exposed:
step(p) = C + max(0, A(p) - 2C/3).
"""
import csv
import json
import math
import os
import sys

BUCKET = 25 * 1 << 20   # bytes, the default bucket_size_mb


def load(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def fit_alpha_beta(points):
    """points: (p, bytes, seconds) -> (alpha, beta) by least squares on relative error."""
    rows = [(2 * (p - 1), 2 * (p - 1) / p * n, t) for p, n, t in points if p > 1 and t > 0]
    if len(rows) < 2:
        return None
    s11 = sum((a / t) ** 2 for a, b, t in rows)
    s12 = sum(a * b / t ** 2 for a, b, t in rows)
    s22 = sum((b / t) ** 2 for a, b, t in rows)
    r1 = sum(a / t for a, b, t in rows)
    r2 = sum(b / t for a, b, t in rows)
    det = s11 * s22 - s12 * s12
    if det == 0:
        return None
    alpha = (r1 * s22 - r2 * s12) / det
    beta = (s11 * r2 - s12 * r1) / det
    return max(alpha, 0.0), max(beta, 1e-15)


def allreduce_time(alpha, beta, p, total_bytes):
    """The buckets of one step, each a ring all-reduce."""
    if p < 2:
        return 0.0
    full, rest = divmod(total_bytes, BUCKET)
    buckets = [BUCKET] * int(full) + ([rest] if rest else [])
    return sum(2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta for n in buckets)


def step_time(compute, allreduce):
    return compute + max(0.0, allreduce - 2 * compute / 3)


def svg(rows, path):
    links = sorted({r["link"] for r in rows})
    colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]   # Okabe-Ito: colour-blind safe
    marks = ["circle", "square", "diamond", "triangle", "circle", "square"]
    w, h, pad = 440, 300, 56
    ranks = sorted({r["ranks"] for r in rows}) or [1]
    xmax = max(ranks)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="920" height="340" font-family="sans-serif" font-size="12">']

    def panel(x0, key, ylabel, ymax):
        out.append(f'<g transform="translate({x0},10)">')
        out.append(f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" stroke="black"/>')
        out.append(f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h - pad}" stroke="black"/>')
        for r in ranks:
            x = pad + (w - 10 - pad) * (math.log2(r) / max(1, math.log2(xmax)) if xmax > 1 else 0.5)
            out.append(f'<text x="{x}" y="{h - pad + 16}" text-anchor="middle">{r}</text>')
        for i in range(5):
            v = ymax * i / 4
            y = h - pad - (h - pad - 10) * i / 4
            out.append(f'<text x="{pad - 6}" y="{y + 4}" text-anchor="end">{v:.3g}</text>')
            out.append(f'<line x1="{pad}" y1="{y}" x2="{w - 10}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{(w + pad) / 2}" y="{h - 14}" text-anchor="middle">ranks (log scale)</text>')
        out.append(f'<text transform="translate(14,{(h - pad) / 2}) rotate(-90)" text-anchor="middle">{ylabel}</text>')
        for li, link in enumerate(links):
            pts = sorted((r["ranks"], r[key]) for r in rows if r["link"] == link)
            if not pts:
                continue
            c = colours[li % len(colours)]
            xy = [(pad + (w - 10 - pad) * (math.log2(p) / max(1, math.log2(xmax)) if xmax > 1 else 0.5),
                   h - pad - (h - pad - 10) * min(v, ymax) / ymax) for p, v in pts]
            dash = "" if li % 2 == 0 else ' stroke-dasharray="6,3"'
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="' +
                       " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>')
            for x, y in xy:
                if marks[li % len(marks)] == "square":
                    out.append(f'<rect x="{x - 4}" y="{y - 4}" width="8" height="8" fill="{c}"/>')
                else:
                    out.append(f'<circle cx="{x}" cy="{y}" r="4" fill="{c}"/>')
        out.append('</g>')

    panel(0, "images_per_s", "images/s (all ranks)", max(r["images_per_s"] for r in rows) * 1.1)
    panel(460, "efficiency", "efficiency vs 1 rank (%)", 110)
    for li, link in enumerate(links):
        out.append(f'<rect x="{70 + 120 * li}" y="318" width="12" height="12" fill="{colours[li % len(colours)]}"/>')
        out.append(f'<text x="{86 + 120 * li}" y="328">{link}</text>')
    out.append('</svg>')
    open(path, "w").write("\n".join(out) + "\n")


def main(directory):
    runs = load(os.path.join(directory, "runs.jsonl"))
    reduces = load(os.path.join(directory, "allreduce.jsonl"))
    base = [r for r in runs if r["link"] == "shm" and r["run"]["ranks"] == 1]
    one = base[0]["run"]["images_per_s"] if base else None
    rows = []
    for r in runs:
        b = r["run"]
        eff = 100 * b["images_per_s"] / (b["ranks"] * one) if one else float("nan")
        rows.append({
            "ranks": b["ranks"], "hosts": r["hosts"], "link": r["link"], "mode": r["mode"],
            "batch_per_rank": b["batch"], "images_per_s": b["images_per_s"], "efficiency": eff,
            "step_s": b["step_s_median"],
            "compute_s_fastest": b.get("rank_compute_s", [0, 0])[0], "compute_s_slowest": b.get("rank_compute_s", [0, 0])[1],
            "allreduce_s_fastest": b.get("rank_allreduce_s", [0, 0])[0], "allreduce_s_slowest": b.get("rank_allreduce_s", [0, 0])[1],
            "exposed_s_fastest": b.get("rank_exposed_s", [0, 0])[0], "exposed_s_slowest": b.get("rank_exposed_s", [0, 0])[1],
            "data_wait_s": 0.0, "allreduce_mib": b.get("allreduce_mib", 0.0),
        })
    with open(os.path.join(directory, "scaling.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["ranks"])
        wr.writeheader()
        wr.writerows(rows)
    with open(os.path.join(directory, "allreduce.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["link", "hosts", "ranks", "bytes", "seconds"])
        for r in reduces:
            wr.writerow([r["link"], r["hosts"], r["t"]["ranks"], r["t"]["bytes"], r["t"]["s_median"]])
    fit = {"model": "ring all-reduce t = 2(p-1)*alpha + 2(p-1)/p * bytes * beta; step = C + max(0, A(p) - 2C/3)",
           "links": {}}
    for link in sorted({r["link"] for r in reduces}):
        ab = fit_alpha_beta([(r["t"]["ranks"], r["t"]["bytes"], r["t"]["s_median"]) for r in reduces if r["link"] == link])
        if not ab:
            continue
        alpha, beta = ab
        entry = {"alpha_s": alpha, "beta_s_per_byte": beta, "bandwidth_gbit_s": 8e-9 / beta, "checks": []}
        for row in rows:
            if row["link"] != link or row["ranks"] < 2:
                continue
            compute = row["compute_s_slowest"]
            predicted_ar = allreduce_time(alpha, beta, row["ranks"], row["allreduce_mib"] * (1 << 20))
            predicted = step_time(compute, predicted_ar)
            entry["checks"].append({
                "ranks": row["ranks"], "hosts": row["hosts"], "measured_step_s": row["step_s"],
                "predicted_step_s": predicted, "step_error": abs(predicted - row["step_s"]) / row["step_s"],
                "measured_allreduce_s": row["allreduce_s_slowest"], "predicted_allreduce_s": predicted_ar,
            })
        fit["links"][link] = entry
    projection = os.path.join(directory, "projection.json")
    if os.path.exists(projection):
        spec = json.load(open(projection))
        fit["PROJECTION"] = {"note": "projected from the fitted constants, not measured", "link": spec["link"], "models": {}}
        ab = fit["links"].get(spec["link"])
        if ab:
            for name, m in spec["models"].items():
                pts = {}
                for p in [16, 32, 64, 128, 256, 512, 1024]:
                    ar = allreduce_time(ab["alpha_s"], ab["beta_s_per_byte"], p, m["bytes"])
                    pts[str(p)] = {"efficiency_percent": 100 * m["compute_s"] / step_time(m["compute_s"], ar),
                                   "allreduce_s": ar}
                fit["PROJECTION"]["models"][name] = {"compute_s": m["compute_s"], "bytes": m["bytes"], "ranks": pts}
    json.dump(fit, open(os.path.join(directory, "fit.json"), "w"), indent=1)
    if rows:
        svg(rows, os.path.join(directory, "scaling.svg"))
    for link, e in fit["links"].items():
        errs = ", ".join(f'{c["ranks"]} hosts {100 * c["step_error"]:.1f}%' for c in e["checks"])
        print(f'{link}: alpha {1e6 * e["alpha_s"]:.1f} us, bandwidth {e["bandwidth_gbit_s"]:.2f} Gbit/s; step error {errs}')
    for name, m in fit.get("PROJECTION", {}).get("models", {}).items():
        line = ", ".join(f'{p}: {v["efficiency_percent"]:.0f}%' for p, v in m["ranks"].items())
        print(f'PROJECTION {name} on {fit["PROJECTION"]["link"]}: {line}')


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "scaling-study")
