"""Helpers shared by the notebook and the script of the greenhouse study."""

from growthlib.io import load_config, load_measurements
from growthlib.stats import bootstrap_slope_ci, fit_growth_model, treatment_effect

__all__ = ["load_config", "load_measurements", "fit_growth_model", "bootstrap_slope_ci", "treatment_effect"]
