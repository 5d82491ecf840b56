"""Reproduce the paper's numbers (Table 1) and Figure 1.

    python run_analysis.py            # writes results/summary.json and results/fig1_*.png
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402

from growthlib import bootstrap_slope_ci, fit_growth_model, load_config, load_measurements, treatment_effect  # noqa: E402


def main():
    config = load_config("config.yaml")
    frame = load_measurements(config["data"])
    model = fit_growth_model(frame)
    summary = {
        "model": {k: round(v, 6) if isinstance(v, float) else v for k, v in model.items()},
        "slope_ci": bootstrap_slope_ci(frame, config["bootstrap_samples"], config["confidence"], config["seed"]),
        "treatment": treatment_effect(frame),
    }
    out = Path(config["outputs"]["summary"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, group in frame.groupby("treatment"):
        ax.scatter(group["leaf_area_cm2"], group["growth_mm_per_day"], s=12, label=name.replace("_", " "))
    xs = sorted(frame["leaf_area_cm2"])
    ax.plot([xs[0], xs[-1]], [model["intercept"] + model["slope"] * x for x in (xs[0], xs[-1])], color="black")
    ax.set_xlabel("leaf area (cm²)")
    ax.set_ylabel("growth (mm/day)")
    ax.legend(frameon=False)
    fig.tight_layout()
    # No "Software" or date metadata: the PNG's bytes depend only on the data.
    fig.savefig(config["outputs"]["figure"], metadata={"Software": None})
    print(json.dumps(summary["model"]))


if __name__ == "__main__":
    main()
