"""The main job: a quick reproduction of every experiment, then the report index.

`python -m priorlab.demo [--only NAME ...] [--quiet]` (what `make demo` runs). Each experiment's ``DEMO``
list names the configs it runs (default: its quick-scale defaults). Prints the path of the report index.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from priorlab import runner
    from priorlab.experiments import EXPERIMENTS, load
    from priorlab.report_index import claim_rows, print_claims, write
    from priorlab.store import Store

    ap = argparse.ArgumentParser(prog="priorlab-demo", description=__doc__)
    ap.add_argument("--only", nargs="*", default=None, help="run only these experiments")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    names = args.only or list(EXPERIMENTS)
    failed = []
    t_all = time.time()
    for name in names:
        module = load(name)
        for values in getattr(module, "DEMO", [{}]):
            t0 = time.time()
            label = name + (" " + " ".join(f"{k}={v}" for k, v in values.items()) if values else "")
            print(f"[demo] {label} ...", flush=True)
            result = runner.run(name, quiet=args.quiet, argv=["priorlab-demo", name], **{"scale": "quick", **values})
            print(f"[demo]   {result.status} in {time.time() - t0:.0f} s: {result.path}", flush=True)
            if result.status != "done":
                failed.append(label)
    index = write()
    print_claims(claim_rows(Store()))
    print(f"[demo] {len(names)} experiments in {time.time() - t_all:.0f} s" + (f"; failed: {failed}" if failed else ""))
    print(f"Report index: {index}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
