"""The study's statistics: a linear growth model, a bootstrap CI, the treatment effect."""

import numpy as np
from scipy import stats


def fit_growth_model(frame):
    """Ordinary least squares of growth on leaf area."""
    fit = stats.linregress(frame["leaf_area_cm2"], frame["growth_mm_per_day"])
    return {
        "slope": float(fit.slope),
        "intercept": float(fit.intercept),
        "r_squared": float(fit.rvalue ** 2),
        "p_value": float(fit.pvalue),
        "n": int(len(frame)),
    }


def bootstrap_slope_ci(frame, samples, confidence, seed):
    """Percentile bootstrap interval of the slope, with a fixed seed."""
    rng = np.random.default_rng(seed)
    x = frame["leaf_area_cm2"].to_numpy()
    y = frame["growth_mm_per_day"].to_numpy()
    slopes = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, len(x), len(x))
        slopes[i] = np.polyfit(x[idx], y[idx], 1)[0]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(slopes, [alpha, 1 - alpha])
    return {"low": round(float(low), 6), "high": round(float(high), 6)}


def treatment_effect(frame):
    """Welch's t-test of growth, supplemental light vs control."""
    light = frame.loc[frame["treatment"] == "supplemental_light", "growth_mm_per_day"]
    control = frame.loc[frame["treatment"] == "control", "growth_mm_per_day"]
    test = stats.ttest_ind(light, control, equal_var=False)
    return {
        "mean_difference": round(float(light.mean() - control.mean()), 6),
        "t": round(float(test.statistic), 6),
        "p_value": float(test.pvalue),
    }
