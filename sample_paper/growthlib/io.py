"""Reading the study's configuration and measurements."""

from pathlib import Path

import pandas as pd
import yaml


def load_config(path="config.yaml"):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_measurements(path):
    frame = pd.read_csv(Path(path))
    return frame.sort_values("plant_id").reset_index(drop=True)
