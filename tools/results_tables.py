"""Print the Markdown tables of docs/results.md from the evaluation JSONs in docs/results/.

    python tools/results_tables.py

Every number in the tables comes from a JSON written by ``tools/bundle_run.py``
or ``posezoo eval --json`` (the commands are in docs/results.md).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
KEYS = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "accel")


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _test(doc: dict) -> dict:
    return doc["test"] if "test" in doc else doc


def lifter_row(label: str, name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return f"| {label} | (not run) |" + " |" * 8
    t = _test(_load(name))
    c, n = t["clean"], t["noisy"]
    cells = [f"{c[k]:.1f}" for k in KEYS] + [f"{n[k]:.1f}" for k in ("mpjpe", "p_mpjpe", "mpjve", "accel")]
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    header = (
        "| model | MPJPE | P-MPJPE | N-MPJPE | MPJVE | accel | noisy MPJPE | noisy P-MPJPE | noisy MPJVE "
        "| noisy accel |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    print("## Lifters (test split, static cameras, clean / noisy 2D)\n")
    print(header)
    for label, name in (
        ("`rtpca_small` (cmu)", "rtpca_small"),
        ("`mixste_small` (cmu)", "mixste_small"),
        ("`uplift_upsample_small` (cmu), every 4th frame", "uplift_upsample_small"),
        ("`uplift_upsample_small`, every 2nd frame", "uplift_upsample_small_stride2"),
        ("`uplift_upsample_small`, every 8th frame", "uplift_upsample_small_stride8"),
    ):
        print(lifter_row(label, name))
    print("\n## Ablations (stage-1 budgets, identical within a family)\n")
    print(header)
    # identical budgets within each family (the first training runs, not the longer bundled ones)
    for label, name in (
        ("STE (`mixste_small`)", "ablation_mixste_small"),
        ("STE + TPCA (`rtpca_small`, `xlr=False`)", "ablation_rtpca_small_no_xlr"),
        ("STE + TPCA + XLR (`rtpca_small`)", "ablation_rtpca_small"),
        ("UU with DUTA (`uplift_upsample_small`)", "ablation_uu_small_duta"),
        ("UU without DUTA", "ablation_uu_small_no_duta"),
    ):
        print(lifter_row(label, name))
    print("\n## Other window lengths\n")
    print(header)
    for path in sorted(RESULTS.glob("*_frames*.json")):
        print(lifter_row(f"`{path.stem}`", path.stem))
    for name in ("mixsynthformer_h36m_3d",):
        path = RESULTS / f"{name}.json"
        if not path.is_file():
            continue
        r = _test(_load(name))["refine"]
        print(
            f"\n## MixSynthFormer (`{name}`): noisy keyframes every {r['sample_interval']} frames, "
            f"sigma {r['sigma_m'] * 1000:.0f} mm, {r['outlier_prob']:.0%} outliers\n"
        )
        print("| method | MPJPE | P-MPJPE | N-MPJPE | MPJVE | accel |\n|---|---|---|---|---|---|")
        for label, prefix in (
            ("MixSynthFormer", ""),
            ("linear interpolation", "linear_"),
            ("cubic interpolation", "cubic_"),
            ("nearest keyframe", "nearest_"),
        ):
            print(f"| {label} | " + " | ".join(f"{r[prefix + k]:.1f}" for k in KEYS) + " |")


if __name__ == "__main__":
    main()
