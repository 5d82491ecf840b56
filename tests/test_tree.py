from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reprokit.scan import tree
from reprokit.scan.tree import walk
from tests.helpers import EXPLORE, write_tree


def test_walk_honours_gitignore_and_skips_environments(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        ".gitignore": "ignored.py\nsecret/\n*.tmp.py\n!keep.tmp.py\n",
        "a.py": "", "ignored.py": "", "x.tmp.py": "", "keep.tmp.py": "",
        "secret/s.py": "",
        "sub/.gitignore": "local_only.py\n", "sub/local_only.py": "", "sub/b.ipynb": "{}",
        ".git/hooks/h.py": "", "node_modules/m/i.py": "", "build/lib/x.py": "",
        "__pycache__/c.py": "", "lib/site-packages/pkg/p.py": "",
        "env1/pyvenv.cfg": "home = /usr", "env1/lib/python3.11/x.py": "",
        "pkg.egg-info/e.py": "", "notes.txt": "",
    })
    walked = tree.walk(tmp_path)
    assert walked.files == ("a.py", "keep.tmp.py", "sub/b.ipynb")
    assert ("env1", "virtual environment") in walked.skipped


def test_walk_single_file(tmp_path: Path) -> None:
    write_tree(tmp_path, {"one.py": "import os"})
    walked = tree.walk(tmp_path / "one.py")
    assert walked.root == tmp_path and walked.files == ("one.py",)


def test_walk_survives_symlink_loop(tmp_path: Path) -> None:
    write_tree(tmp_path, {"d/a.py": ""})
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    walked = tree.walk(tmp_path)
    assert walked.files == ("d/a.py",)
    assert any("loop" in why for _, why in walked.skipped)


def test_walk_every_file_when_no_suffix(tmp_path: Path) -> None:
    write_tree(tmp_path, {"data/x.csv": "1", "a.py": "", ".gitignore": "*.log\n", "run.log": ""})
    assert tree.walk(tmp_path, suffixes=None).files == (".gitignore", "a.py", "data/x.csv")


def test_walk_skips_gitignore_lines_git_cannot_read(tmp_path: Path) -> None:
    # black's sdist has such a file: a lone "!" is no pattern, and git skips it.
    write_tree(tmp_path, {"sub/.gitignore": "!\nignored.py\n", "sub/ignored.py": "", "sub/kept.py": ""})
    walked = tree.walk(tmp_path)
    assert walked.files == ("sub/kept.py",)
    assert walked.bad_ignores == (("sub/.gitignore", 1, "'!' is not a pattern git reads: ignored, as git does"),)


def test_gitignore_lines_that_backtrack_are_matched_in_bounded_time(tmp_path: Path) -> None:
    import time

    name = "a" * 200
    deep = "/".join(["a"] * 60)
    write_tree(tmp_path, {".gitignore": "*a*a*a*a*a*a*a*a*a*a*a*a*b\n**/a/**/a/**/a/**/b\n*a*c\n", f"{name}.py": "x = 1\n",
                          f"{deep}/keep.py": "", f"{deep}/b": "", "xac": "", "ac/inside.py": ""})
    start = time.monotonic()
    walked = walk(tmp_path, suffixes=None)
    assert time.monotonic() - start < 5  # Python's re takes minutes on the first line
    assert f"{name}.py" in walked.files and f"{deep}/keep.py" in walked.files
    assert f"{deep}/b" not in walked.files and "xac" not in walked.files and "ac/inside.py" not in walked.files


PATTERNS = ["*.py[co]", "a/**/b", "**/a/**/b", "*a*b", "[!a]b*", "x/*.txt", "**/c?/**", "!*.py", "\\#*", "[]a]x*", "a\\*b*", "*.[!p]y"]


@settings(max_examples=300 * EXPLORE, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="ab/xc.y*#p", min_size=1, max_size=14))
def test_the_bounded_matcher_agrees_with_re(pattern: str, path: str) -> None:
    import pathspec.util

    from reprokit.scan.tree import Matcher

    factory = pathspec.util.lookup_pattern("gitignore" if "gitignore" in pathspec.util._registered_patterns else "gitwildmatch")
    regex = factory(pattern).regex
    assert Matcher(regex.pattern).match(path) == bool(regex.match(path))
