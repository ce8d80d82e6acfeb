#!/usr/bin/env python3
"""The report of scripts/scaling-study.sh, from its runs.jsonl and allreduce.jsonl (and projection.json):

scaling.csv    ranks, hosts, link, mode, images/s, efficiency vs one rank, the step split per rank
               (compute / all-reduce / exposed communication / data wait, fastest and slowest rank)
allreduce.csv  link, ranks, bytes, seconds (median)
fit.json       per link the alpha-beta model of a ring all-reduce, t = 2(p-1)a + 2(p-1)/p n b, fitted by
               least squares to all-reduces measured under compute load (per rank count, and the
               2-rank fit as the link's constants); its error on the measured multi-host steps;
               PROJECTIONS (labelled so) of efficiency at 16 ... 1,024 ranks for projection.json's models
scaling.svg    images/s and efficiency against ranks, one line per link

The step model: a rank computes for C seconds; gradient bucket i is ready at r_i * C (measured: the
benchmark reports each bucket's readiness and size) and all-reduces, one bucket after another, in
t_i = 2(p-1)a + 2(p-1)/p n_i b; the step ends when compute and the last all-reduce have:
step(p) = max(C, end of the last bucket).
"""
import csv
import json
import math
import os
import sys



def load(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def fit_alpha_beta(points):
    """points: (p, bytes, seconds) -> (alpha, beta): alpha from the smallest messages (latency alone),
    beta from the messages of 1 MiB and more by least squares on the time left after alpha (what the
    gradient buckets, tens of MiB, see)."""
    rows = [(p, n, t) for p, n, t in points if p > 1 and t > 0]
    if len(rows) < 2:
        return None
    smallest = min(n for _, n, _ in rows)
    tiny = sorted(t / (2 * (p - 1)) for p, n, t in rows if n == smallest)
    alpha = tiny[len(tiny) // 2]
    big = [(2 * (p - 1) / p * n, t - 2 * (p - 1) * alpha) for p, n, t in rows if n >= 1 << 20]
    if not big:
        return None
    beta = sum(x * y for x, y in big) / sum(x * x for x, _ in big)
    return max(alpha, 0.0), max(beta, 1e-15)


def ring(alpha, beta, p, n):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta if p > 1 else 0.0


def step_time(alpha, beta, p, compute, buckets):
    """buckets: [(ready fraction of compute, bytes)] in queue order, all-reduced one after another."""
    t = 0.0
    for ready, n in buckets:
        t = max(t, ready * compute) + ring(alpha, beta, p, n)
    return max(compute, t)


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
    fit = {"model": "ring all-reduce t = 2(p-1)*alpha + 2(p-1)/p * bytes * beta; buckets queued at their measured "
                     "readiness, one after another; step = max(compute, end of the last bucket)", "links": {}}
    # Per link: one fit per rank count (on this machine 4 ranks share 2 cores, so their effective constants
    # differ) used to check the step model at that count, and the 2-rank fit (one core per rank, as on a
    # cluster) used for the projection.
    for link in sorted({r["link"] for r in reduces}):
        points = [(r["t"]["ranks"], r["t"]["bytes"], r["t"]["s_median"]) for r in reduces if r["link"] == link]
        fits = {p: fit_alpha_beta([q for q in points if q[0] == p]) for p in sorted({q[0] for q in points})}
        fits = {p: ab for p, ab in fits.items() if ab}
        if not fits:
            continue
        alpha, beta = fits.get(2) or next(iter(fits.values()))
        entry = {"alpha_s": alpha, "beta_s_per_byte": beta, "bandwidth_gbit_s": 8e-9 / beta,
                 "per_ranks": {str(p): {"alpha_s": a, "beta_s_per_byte": b, "bandwidth_gbit_s": 8e-9 / b}
                               for p, (a, b) in fits.items()}, "checks": []}
        for r in runs:
            b = r["run"]
            if r["link"] != link or b["ranks"] < 2 or not b.get("bucket_mib") or b["ranks"] not in fits:
                continue
            a_p, b_p = fits[b["ranks"]]
            compute = b["rank_compute_s"][1]
            buckets = [(f, m * (1 << 20)) for f, m in zip(b["bucket_ready"], b["bucket_mib"])]
            predicted = step_time(a_p, b_p, b["ranks"], compute, buckets)
            predicted_ar = sum(ring(a_p, b_p, b["ranks"], n) for _, n in buckets)
            entry["checks"].append({
                "ranks": b["ranks"], "hosts": r["hosts"], "measured_step_s": b["step_s_median"],
                "predicted_step_s": predicted, "step_error": abs(predicted - b["step_s_median"]) / b["step_s_median"],
                "measured_allreduce_s": b["rank_allreduce_s"][1], "predicted_allreduce_s": predicted_ar,
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
                buckets = [(f, mib * (1 << 20)) for f, mib in zip(m["bucket_ready"], m["bucket_mib"])]
                for p in [16, 32, 64, 128, 256, 512, 1024]:
                    step = step_time(ab["alpha_s"], ab["beta_s_per_byte"], p, m["compute_s"], buckets)
                    pts[str(p)] = {"efficiency_percent": 100 * m["compute_s"] / step, "step_s": step}
                fit["PROJECTION"]["models"][name] = {"compute_s": m["compute_s"], "mib": sum(m["bucket_mib"]), "ranks": pts}
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
