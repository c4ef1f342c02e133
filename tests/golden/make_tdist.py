"""Writes tests/golden/tdist_scipy.json: Student t CDF/SF and quantiles, and noncentral
t upper tails, from scipy.stats (Debian python3-scipy), for pgolf's stats tests."""
import json
import sys

from scipy import stats

DFS = [1, 1.5, 2, 2.7, 3, 4, 5, 7.3, 10, 30, 100, 1000, 1e4, 1e5, 1e6]
TS = [0, 1e-6, 1e-3, 0.1, 0.5, 1, 1.5, 2, 3, 5, 10, 31.42, 93.6, 1e3, 1e6]


def main():
    out = sys.argv[1]
    cdf = []
    for df in DFS:
        for t in TS:
            for s in ([t] if t == 0 else [t, -t]):
                cdf.append({"df": df, "t": s, "cdf": float(stats.t.cdf(s, df)), "sf": float(stats.t.sf(s, df))})
    isf = [{"df": df, "p": p, "t": float(stats.t.isf(p, df))}
           for df in [1, 2, 3, 4.5, 10, 100] for p in [0.5, 0.1, 0.05, 0.01, 0.001, 1e-6]]
    nct = [{"df": df, "t": t, "ncp": ncp, "sf": float(stats.nct.sf(t, df, ncp))}
           for df in [1, 2, 4, 9, 30] for t in [0.5, 2.0, 6.965] for ncp in [0.0, 1.0, 4.0, 10.0]]
    with open(out, "w") as f:
        json.dump({"generator": "tests/golden/make_tdist.py (scipy %s)" % __import__("scipy").__version__,
                   "cdf": cdf, "isf": isf, "nct_sf": nct}, f, indent=0)
        f.write("\n")
    print(f"{out}: {len(cdf)} cdf, {len(isf)} isf, {len(nct)} nct points")


if __name__ == "__main__":
    main()
