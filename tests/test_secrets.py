from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprokit.cli import main
from reprokit.report import text as render
from reprokit.scan import secrets
from tests.helpers import SAMPLE_PAPER, write_tree

GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS = "AKIA" + "IOSFODNN7EXAMPLQ"


def nb_with_output(text: str) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "source": "print(token)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}]}]})


def test_planted_secrets_are_found_masked(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "run.py": f'import os\nGITHUB = "{GH}"\napi_key = "s3cr3t-value-123"\npassword = os.environ["PW"]\nkey = "{AWS}"\n',
        "keys/deploy.pem": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
        "analysis.ipynb": nb_with_output("ZENODO_API_TOKEN='" + "Z" * 60 + "'\n"),
        ".env": "DB_URL=postgres://u:p@h/db\n",
        ".netrc": "machine zenodo.org login x password y\n",
        "config.yaml": "zenodo_token: '" + "q" * 60 + "'\nslack: https://hooks.slack.com/services/T000/B000/XXXX\n",
    })
    found = {(f.path, f.line, f.kind.split(" (")[0]) for f in secrets.scan_path(tmp_path)}
    assert ("run.py", 2, "GitHub token") in found and ("run.py", 3, "password or key assignment") in found
    assert ("run.py", 5, "AWS access key id") in found and not any(p == "run.py" and line == 4 for p, line, _ in found)
    assert ("keys/deploy.pem", 1, "private key") in found
    assert any(p == "analysis.ipynb" and k == "Zenodo token" for p, _, k in found)
    assert (".env", None, "dotenv file") in found and (".netrc", None, "netrc credentials") in found
    assert ("config.yaml", 1, "Zenodo token") in found and ("config.yaml", 2, "Slack webhook") in found
    rendered = render.findings(secrets.scan_path(tmp_path))
    assert GH not in rendered and AWS not in rendered and "ghp_" in rendered  # masked, but recognisable


def test_allow_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_tree(tmp_path, {"run.py": f'x = "{GH}"\n'})
    assert main(["secrets", str(tmp_path)]) == 1
    assert "run.py:1: GitHub token" in capsys.readouterr().out
    assert main(["secrets", str(tmp_path), "--allow-secret", "run.py:1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_no_false_alarm_on_the_sample_paper() -> None:
    assert secrets.scan_path(SAMPLE_PAPER) == []


def test_passwords_in_urls_are_found_and_placeholders_are_not() -> None:
    text = ('INDEX = "https://alice:hunter2hunter2@pypi.example.org/simple"\n'
            "db = 'postgresql://bob:correct-horse@db.internal:5432/x'\n"
            'tpl = "https://user:${PASSWORD}@example.org/"\n'
            'plain = "https://example.org/a@b"\n')
    found = secrets.scan_text(text, "cfg.py")
    assert [(f.line, f.kind) for f in found] == [(1, "password in URL"), (2, "password in URL")]
    assert "hunter2hunter2" not in found[0].masked
