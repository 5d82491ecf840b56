"""publish against zenodo-mock (spawned here) and against a local server that misbehaves."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from zenodo_mock.testing import spawn

from reprokit.archive import ArchiveSettings, archive
from reprokit.bundle import manifest
from reprokit.cli import main
from reprokit.errors import PublishRefused, ZenodoError
from reprokit.publish import PublishSettings, metadata, publish
from reprokit.scan import citation
from tests.fakeindex import FakeIndex, running
from tests.fakeservers import serve
from tests.helpers import PAPER, RUNNING, write_tree

TOKEN = "tok" + "e" * 50 + "n"  # looks like nothing else in the output
CFF = PAPER["CITATION.cff"].replace('    given-names: Jo\n', '    given-names: Jo\n    orcid: "https://orcid.org/0000-0002-1825-0097"\n') + (
    'doi: "10.1234/paper.5678"\nlicense: MIT\nkeywords: [greenhouse]\nabstract: "Growth and leaf area."\nrepository-code: "https://example.org/lab/tiny"\n')


@pytest.fixture(scope="module")
def bundle_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pub")
    index = FakeIndex()
    index.add("alpha", "1.0", ["beta"], uploaded="2023-06-01T00:00:00Z")
    index.add("beta", "2.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(base / "tiny-paper", {**PAPER, "CITATION.cff": CFF})
    with running(index) as url:
        archive(ArchiveSettings(python=RUNNING, paper=paper, output=base / "bundle", offline=True, record_outputs=False, index_url=f"{url}/simple/", cache_dir=base / "cache", quiet=True))
    return base / "bundle"


@pytest.fixture
def bundle(bundle_src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(bundle_src, dest)
    return dest


def test_round_trip_new_version_and_no_duplicate(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    storage = tmp_path / "zenodo"
    with spawn(storage) as base:
        assert main(["publish", str(bundle), "--zenodo-url", base, "--yes", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        dep = str(first["deposition_id"])
        assert first["state"] == "done" and first["doi"] == f"10.5072/zenodo.{dep}" and first["record_url"].endswith(f"/records/{dep}")
        arrived = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (storage / dep).iterdir()}
        tarball = bundle.with_name("bundle.tar.gz")
        assert arrived == {"tiny-paper.tar.gz": hashlib.sha256(tarball.read_bytes()).hexdigest(),
                           "README.md": hashlib.sha256((bundle / "README.md").read_bytes()).hexdigest(),
                           "CITATION.cff": hashlib.sha256((bundle / "CITATION.cff").read_bytes()).hexdigest()}
        with tarfile.open(storage / dep / "tiny-paper.tar.gz") as tf:
            assert "tiny-paper/verify.py" in tf.getnames()
        record = json.loads((bundle.with_name("bundle.zenodo.json")).read_text())
        assert record["deposition_id"] == int(dep) and record["state"] == "done"
        md = first["metadata"]
        assert md["upload_type"] == "software" and md["title"] == "Tiny study" and md["license"] == "mit"
        assert md["creators"] == [{"name": "Doe, Jo", "orcid": "0000-0002-1825-0097"}] and md["publication_date"] == "2024-01-20"
        assert {"identifier": "10.1234/paper.5678", "relation": "isSupplementTo", "scheme": "doi", "resource_type": "publication-article"} in md["related_identifiers"]
        assert {"identifier": "https://example.org/lab/tiny", "relation": "isDerivedFrom", "scheme": "url"} in md["related_identifiers"]
        assert "nixpkgs" in md["notes"] and "Python 3." in md["notes"] and md["description"] == "Growth and leaf area."

        # The same bundle again: nothing is created.
        assert main(["publish", str(bundle), "--zenodo-url", base, "--yes"]) == 0
        assert "Nothing changed since deposition" in capsys.readouterr().out
        assert sorted(p.name for p in storage.iterdir()) == [dep]

        # A changed bundle becomes a new version of the recorded deposition (its stale
        # tarball from the first publish is not reused).
        (bundle / "paper" / "data" / "input.csv").write_text("a,b\n1,3\n")
        from reprokit.bundle.pack import sums
        (bundle / "reprokit.yaml").write_text((bundle / "reprokit.yaml").read_text().replace(
            hashlib.sha256(b"a,b\n1,2\n").hexdigest(), hashlib.sha256(b"a,b\n1,3\n").hexdigest()))
        (bundle / "SHA256SUMS").write_text(sums(bundle))
        assert main(["publish", str(bundle), "--zenodo-url", base, "--yes", "--json"]) == 0
        second = json.loads(capsys.readouterr().out)
        assert second["deposition_id"] != first["deposition_id"] and second["state"] == "done"
        new_dir = storage / str(second["deposition_id"])
        assert sorted(p.name for p in new_dir.iterdir()) == ["CITATION.cff", "README.md", "tiny-paper.tar.gz"]
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "PUT http://127.0.0.1" in caplog.text and TOKEN not in caplog.text  # requests are logged, the token is not
    for p in [*tmp_path.rglob("*")]:
        if p.is_file():
            assert TOKEN.encode() not in p.read_bytes(), p


def test_dry_run_sends_nothing_and_needs_no_token(bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ZENODO_API_TOKEN", raising=False)
    assert main(["publish", str(bundle), "--dry-run", "--zenodo-url", "http://127.0.0.1:9"]) == 0
    out = capsys.readouterr().out
    assert "tiny-paper.tar.gz" in out and '"upload_type": "software"' in out and "Nothing was sent." in out


def test_corrupt_bundle_secret_and_bad_citation_are_refused(bundle: Path, tmp_path: Path) -> None:
    (bundle / "paper" / "run.py").write_text("tampered\n")
    with pytest.raises(PublishRefused, match=r"corrupt .*paper/run\.py"):
        publish(PublishSettings(bundle=bundle, dry_run=True))
    from reprokit.bundle.pack import sums
    (bundle / "paper" / "run.py").write_text('token = "ghp_' + "A" * 36 + '"\n')
    manifest_text = (bundle / "reprokit.yaml").read_text()
    old = hashlib.sha256(PAPER["run.py"].encode()).hexdigest()
    (bundle / "reprokit.yaml").write_text(manifest_text.replace(old, hashlib.sha256((bundle / "paper" / "run.py").read_bytes()).hexdigest()))
    (bundle / "SHA256SUMS").write_text(sums(bundle))
    with pytest.raises(PublishRefused, match=r"possible secrets in the bundle: paper/run\.py:1"):
        publish(PublishSettings(bundle=bundle, dry_run=True))
    publish(PublishSettings(bundle=bundle, dry_run=True, allow_secrets=("paper/run.py:1",)))
    (bundle / "CITATION.cff").write_text('cff-version: 1.2.0\ntitle: "x"\nauthors:\n  - family-names: A\n    orcid: "0000-0002-1825-0097"\ndate-released: "Feb 2024"\n')
    (bundle / "SHA256SUMS").write_text(sums(bundle))
    with pytest.raises(PublishRefused) as info:
        publish(PublishSettings(bundle=bundle, dry_run=True, allow_secrets=("paper/run.py:1",)))
    msg = str(info.value)
    assert "(top): 'message' is a required property" in msg and "authors/0/orcid: '0000-0002-1825-0097' does not match" in msg
    assert "date-released: 'Feb 2024' is not a 'date'" in msg and "\n" not in msg


def test_citation_is_checked_against_the_cff_schema_path_by_path() -> None:
    from reprokit.scan import citation

    # What six hand checks let through, the official CFF 1.2.0 schema does not.
    bad = citation.parse('cff-version: 1.2.0\nmessage: "m"\ntitle: "t"\nauthors:\n  - family-names: Doe\n  - name: The consortium\n'
                         '    email: nope\nlicense: MITX\nkeywords: [1, b]\ndate-released: 2024-01-20\ntitel: "typo"\n')
    assert citation.problems(bad) == [
        "(top): Additional properties are not allowed ('titel' was unexpected)",
        r"authors/1/email: 'nope' does not match '^[\\S]+@[\\S]+\\.[\\S]{2,}$'",
        "keywords/0: 1 is not of type 'string'",
        "license: 'MITX' is not one of the 459 values CFF 1.2.0 allows",
    ]
    # An unquoted YAML date is a date, as the schema asks of validators; and the file
    # archive writes for a paper without one is valid.
    from reprokit.archive.paper import generated_citation

    assert citation.problems(citation.parse(generated_citation("tiny", __import__("datetime").date(2024, 1, 20)))) == []


class Script:
    """A fake Zenodo whose answers to each request are scripted in order."""

    def __init__(self, *answers: tuple[int, object] | str) -> None:
        self.answers = list(answers)
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, h) -> None:  # type: ignore[no-untyped-def]
        from tests.fakeservers import reply

        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        self.seen.append((h.command, h.path, dict(h.headers)))
        answer = self.answers.pop(0) if self.answers else (200, {})
        if answer == "stall":
            import time
            time.sleep(2)
            answer = (200, {})
        status, body = answer  # type: ignore[misc]
        # The client may have given up on a stalled answer: that is the point of the stall.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            reply(h, status, json.dumps(body).encode())


def run_against(script: Script, bundle: Path, **kw: object) -> object:
    with serve(script) as (base, _):
        return publish(PublishSettings(bundle=bundle, zenodo_url=base, yes=True, backoff=0.01, timeout=1.0, **kw))  # type: ignore[arg-type]


def deposition(base: str = "http://127.0.0.1:1") -> dict[str, object]:
    return {"id": 7, "links": {"bucket": f"{base}/api/files/7"}, "metadata": {}, "files": []}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([(401, {"message": "Unauthorized"})], "refused the token (401)"),
        ([(403, {"message": "Forbidden"})], "lacks the deposit:write and deposit:actions scopes, or it is a sandbox token on production"),
        ([(400, {"message": "Validation error", "errors": [{"field": "metadata.title", "messages": ["Missing data"]}, {"field": "metadata.creators.0.name", "message": "Bad name"}]})],
         "Zenodo rejected the deposit (400):\n  metadata.title: Missing data\n  metadata.creators.0.name: Bad name"),
    ],
)
def test_zenodo_errors_are_explained(bundle: Path, monkeypatch: pytest.MonkeyPatch, answers: list[object], expected: str) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    with pytest.raises(ZenodoError) as info:
        run_against(Script(*answers), bundle)  # type: ignore[arg-type]
    assert expected in str(info.value) and TOKEN not in str(info.value)


def test_429_500_and_timeouts_are_retried(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    script = Script((429, {}), (500, {}), "stall", (200, deposition()), (200, {}), (500, {}), (200, {}), (200, {}), (200, {}),
                    (200, {"id": 7, "doi": "10.5072/zenodo.7", "conceptdoi": "10.5072/zenodo.6", "links": {"record_html": "x/records/7"}}))
    with serve(script) as (base, _):
        script.answers[3] = (200, deposition(base))  # the bucket link must point at this server
        result = publish(PublishSettings(bundle=bundle, zenodo_url=base, yes=True, backoff=0.01, timeout=1.0))
    assert result.doi == "10.5072/zenodo.7" and result.concept_doi == "10.5072/zenodo.6"
    methods = [m for m, _, _ in script.seen]
    assert methods[:4] == ["POST"] * 4  # create: 429, 500, timeout, then success
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, _, h in script.seen)
    assert all(TOKEN not in path for _, path, _ in script.seen)  # never in a URL


def test_without_yes_off_a_terminal_nothing_is_sent(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    from reprokit.errors import UsageError

    with pytest.raises(UsageError, match="pass --yes"):
        publish(PublishSettings(bundle=bundle, zenodo_url="http://127.0.0.1:9"))


@pytest.mark.parametrize("bad", [TOKEN + "\r", TOKEN + "\n", " " + TOKEN, TOKEN[:10] + "\x1b" + TOKEN[10:]])
def test_a_token_with_control_characters_is_refused_before_use(bundle: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str], bad: str) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", bad)
    script = Script((200, deposition()))
    with serve(script) as (base, _):
        assert main(["publish", str(bundle), "--zenodo-url", base, "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ZENODO_API_TOKEN: the token holds a space or control character") and err.count("\n") == 1
    assert TOKEN[:10] not in err and script.seen == []


def test_the_token_goes_only_to_the_zenodo_given(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    elsewhere = Script((200, {}), (200, {}), (200, {}))
    with serve(elsewhere) as (other, _), pytest.raises(ZenodoError, match="the token goes only to the Zenodo given") as info:
        run_against(Script((200, deposition(other.replace("127.0.0.1", "localhost")))), bundle)
    assert elsewhere.seen == [] and TOKEN not in str(info.value)


@pytest.mark.parametrize("url", ["http://zenodo.example.org", "ftp://zenodo.example.org"])
def test_plain_http_to_another_machine_needs_a_flag(bundle: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    from reprokit.errors import UsageError

    with pytest.raises(UsageError, match="use https://" if url.startswith("http:") else "not an http"):
        publish(PublishSettings(bundle=bundle, zenodo_url=url, yes=True))


def test_a_tarball_older_than_the_folder_is_not_uploaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # The report: archive --tar, publish, edit the paper, archive --force without --tar,
    # publish again. The tarball beside the folder is the first archive's.
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    index = FakeIndex()
    index.add("alpha", "1.0", ["beta"], uploaded="2023-06-01T00:00:00Z")
    index.add("beta", "2.0", uploaded="2023-06-01T00:00:00Z")
    paper = write_tree(tmp_path / "tiny-paper", {**PAPER, "CITATION.cff": CFF})
    out = tmp_path / "bundle"
    storage = tmp_path / "zenodo"
    with running(index) as url, spawn(storage) as base:
        def make(**kw: bool) -> None:
            archive(ArchiveSettings(python=RUNNING, paper=paper, output=out, offline=True, record_outputs=False, index_url=f"{url}/simple/",
                                    cache_dir=tmp_path / "cache", quiet=True, **kw))

        make(tar=True)
        assert main(["publish", str(out), "--zenodo-url", base, "--yes", "--json"]) == 0
        first = json.loads(capsys.readouterr().out)
        (paper / "data" / "input.csv").write_text("a,b\n1,3\n")
        make(force=True)
        assert main(["publish", str(out), "--zenodo-url", base, "--yes", "--json"]) == 0
        second = json.loads(capsys.readouterr().out)
    assert second["state"] == "done" and second["deposition_id"] != first["deposition_id"]  # not "nothing changed"
    with tarfile.open(storage / str(second["deposition_id"]) / "tiny-paper.tar.gz") as tf:
        member = tf.extractfile("tiny-paper/paper/data/input.csv")
        assert member is not None and member.read() == b"a,b\n1,3\n"
    assert any("did not match the folder" in n for n in second["notes"])


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
def test_zenodo_url_is_the_base_url_and_its_api_url_works_too(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", TOKEN)
    with spawn(tmp_path / "zenodo") as base:
        assert main(["publish", str(bundle), "--zenodo-url", base + suffix, "--draft", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["state"] == "draft" and (tmp_path / "zenodo" / str(got["deposition_id"]) / "tiny-paper.tar.gz").is_file()
    assert json.loads(bundle.with_name("bundle.zenodo.json").read_text())["zenodo"] == base


@pytest.fixture
def zenodo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """zenodo-client's configuration folder (pystow's), empty and private to the test."""
    import pystow.config_api

    home = tmp_path / "config"
    home.mkdir()
    monkeypatch.setenv("PYSTOW_CONFIG_HOME", str(home))
    monkeypatch.delenv("ZENODO_API_TOKEN", raising=False)
    monkeypatch.delenv("ZENODO_SANDBOX_API_TOKEN", raising=False)
    pystow.config_api._get_cfp.cache_clear()  # pystow reads its files once per process
    yield home
    pystow.config_api._get_cfp.cache_clear()


def test_the_token_is_found_where_zenodo_client_looks(bundle: Path, tmp_path: Path, zenodo_config: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # zenodo-client (through pystow) also reads the token from ~/.config/zenodo.ini.
    (zenodo_config / "zenodo.ini").write_text(f"[zenodo]\napi_token = {TOKEN}\n")
    script = Script((200, deposition()))
    with serve(script) as (base, _):
        script.answers[0] = (200, deposition(base))
        assert main(["publish", str(bundle), "--zenodo-url", base, "--draft"]) == 0
    assert script.seen and all(h.get("Authorization") == f"Bearer {TOKEN}" for _, _, h in script.seen)
    assert TOKEN not in "".join(capsys.readouterr())


def test_no_token_anywhere_is_one_line_naming_where_to_put_it(bundle: Path, zenodo_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["publish", str(bundle), "--zenodo-url", "http://127.0.0.1:9", "--draft"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no Zenodo token: set ZENODO_API_TOKEN") and "zenodo.ini" in err and err.count("\n") == 1


def test_metadata_of_a_bundle_without_nix_says_so() -> None:
    """A pip-only bundle (archive --no-nix) has no pin to name in the deposit's notes."""
    man = dataclasses.replace(manifest.read(Path(__file__).parent / "golden" / "reprokit.yaml"), nixpkgs=None)
    md = metadata(citation.parse(CFF), man, "# Tiny study\n")
    assert md["notes"].startswith("Archived with reprokit 0.1.0: Python 3.11 on x86_64-linux, 2 packages vendored, no Nix build. Verify with")
    assert md["publication_date"] == "2024-01-20"


ECHOED = "ech0ed" + "Q" * 40 + "tok"  # a token of its own: no other test has shown it before


@pytest.mark.parametrize("answer", [
    (422, {"status": 422, "message": f"credentials {{'Authorization': 'Bearer {ECHOED}', 'User-Agent': 'reprokit'}}"}),
    (400, {"message": "Validation error", "errors": [{"field": f"headers.Authorization={ECHOED}", "messages": [f"got Bearer {ECHOED}"]}]}),
    (409, {"message": f"see https://zenodo.example/api/deposit?access_token={ECHOED.lower()}x&page=1"}),
    (404, {"message": {"request": {"headers": {"Authorization": f"Bearer {ECHOED}"}}}}),
], ids=["422-header-quoted", "400-field-and-message", "409-query-token", "404-nested-object"])
def test_credentials_a_server_echoes_are_never_shown(bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                     answer: tuple[int, object]) -> None:
    monkeypatch.setenv("ZENODO_API_TOKEN", ECHOED)
    with serve(Script(answer)) as (base, _):
        assert main(["-v", "publish", str(bundle), "--zenodo-url", base, "--yes"]) != 0
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "error: " in printed.err and "Traceback" not in text
    assert ECHOED not in text and ECHOED.lower() not in text and ECHOED[6:30] not in text, text
