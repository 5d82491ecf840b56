"""What a paper's READMEs and Makefiles say to run: the commands they give (``cd code &&
python run.py all``, ``$ python main.py``, ``jupyter nbconvert --execute x.ipynb``), the
folder each runs in, the inputs they name that the paper lacks, the placeholders a reader
fills in, and the order in which they name the notebooks.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Folders of a paper that hold its article, not its computation.
ARTICLE_DIRS = frozenset({"article", "manuscript", "latex", "tex", "paper-tex", "slides", "poster", "presentation"})
# Scripts that publish, deploy or build the package rather than compute the paper.
HELPER_NAME = re.compile(r"^(publish|deploy|upload|release|setup|conf|fabfile|noxfile|tasks|manage|bump\w*|make_?release)\.py$")
# An argument that stands for a path of the reader's, and the folder it becomes.
PLACEHOLDER = re.compile(r"^(/path/to\b|<[^>]+>$|\{[^}]+\}$|YOUR_|path/to/|/your/)", re.I)
OUTPUT_DIR = "reprokit-output"


def is_article_tooling(rel: str) -> bool:
    parts = rel.split("/")
    return any(p.lower() in ARTICLE_DIRS for p in parts[:-1]) or HELPER_NAME.match(parts[-1]) is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Command:
    """``python SCRIPT ARGS`` (or a notebook run) as a document gives it."""

    path: str  # inside the paper
    args: tuple[str, ...]
    cwd: str  # inside the paper, "" for its top
    source: str  # file:line


_FENCE = re.compile(r"^\s*(```|~~~)")


_PY = re.compile(r"^(?:python[\d.]*|\$\(PYTHON\)|\$\{PYTHON\}|\$PYTHON|\$\(PY\)|poetry run python[\d.]*|uv run python[\d.]*|pipenv run python[\d.]*)$")


_NB = re.compile(r"^jupyter(?:-|\s+)(?:nbconvert|execute|run)$")


def _code_lines(text: str, is_makefile: bool) -> list[tuple[int, str, int]]:
    """Lines that hold commands, each with the block it belongs to (a ``cd`` holds until
    the block ends): fenced or indented code, inline code spans, shell prompts, Makefile
    recipes (one block per rule)."""
    out: list[tuple[int, str, int]] = []
    in_fence = False
    block = 0
    previous_code = False
    for n, line in enumerate(text.splitlines(), 1):
        if is_makefile:
            if line.startswith("\t"):
                out.append((n, line.strip().lstrip("@-"), block))
            elif line.strip():
                block += 1
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
            block += 1
            rest = _FENCE.sub("", line).strip().rstrip("`").strip()
            if rest and not re.fullmatch(r"[\w+-]+", rest):  # ```python setup.py build_ext ```
                out.append((n, rest, block))
            continue
        if in_fence or (line.startswith(("    ", "\t")) and line.strip()):
            if not in_fence and not previous_code:
                block += 1
            out.append((n, line.strip(), block))
            previous_code = True
            continue
        previous_code = False
        for span in re.findall(r"`([^`]+)`", line):
            block += 1
            out.append((n, span.strip(), block))
        m = re.match(r"^\s*\$\s+(.*)$", line)
        if m:
            block += 1
            out.append((n, m.group(1), block))
        elif re.match(r"^(?:Usage:\s*)?python[\d.]*\s+\S+\.py\b", line.strip()):
            block += 1
            out.append((n, re.sub(r"^Usage:\s*", "", line.strip()), block))
    return out


def _split_commands(line: str) -> list[list[str]]:
    line = re.sub(r"^\s*\$\s+", "", line)
    line = re.sub(r"\s+#.*$", "", line)
    # A placeholder of several words (<UCI Dataset directory>) is one argument.
    line = re.sub(r"<([^<>\n]+)>", lambda m: "<" + re.sub(r"\s+", "_", m.group(1).strip()) + ">", line)
    try:
        tokens = shlex.split(line, comments=False, posix=True)
    except ValueError:
        return []
    commands: list[list[str]] = [[]]
    for t in tokens:
        if t in ("&&", ";", "||"):
            commands.append([])
        else:
            commands[-1].append(t)
    return [c for c in commands if c]


def commands_in(paper: Path, rel: str, files: frozenset[str]) -> list[Command]:
    """The commands in one README or Makefile that run a file of the paper."""
    try:
        text = (paper / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    base = rel.rsplit("/", 1)[0] if "/" in rel else ""
    is_makefile = rel.rsplit("/", 1)[-1] in ("Makefile", "makefile", "GNUmakefile")
    out = []
    cwd = base
    current = -1
    for n, line, block in _code_lines(text, is_makefile):
        if block != current:
            cwd, current = base, block
        for tokens in _split_commands(line):
            if tokens[0] == "cd" and len(tokens) == 2:
                moved = posixpath.normpath(posixpath.join(cwd, tokens[1]))
                cwd = "" if moved == "." else moved
                continue
            cmd = _command(tokens, cwd, files, f"{rel}:{n}")
            if cmd is not None:
                out.append(cmd)
    return out


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _command(tokens: list[str], cwd: str, files: frozenset[str], source: str) -> Command | None:
    # Variables set for the command (THEANO_FLAGS=... python run.py): the run's own
    # environment holds what it needs.
    while tokens and _ASSIGNMENT.match(tokens[0]):
        tokens = tokens[1:]
    if not tokens:
        return None
    i = 0
    joined = " ".join(tokens[:3])
    for prefix in ("poetry run", "uv run", "pipenv run"):
        if joined.startswith(prefix + " python"):
            i = 2
            break
    if _PY.match(tokens[i] if i < len(tokens) else ""):
        rest = tokens[i + 1:]
        while rest and rest[0].startswith("-") and rest[0] not in ("-m",):
            rest = rest[1:]  # interpreter flags: -u, -W ignore is rare enough
        if not rest:
            return None
        if rest[0] == "-m" and len(rest) > 1:
            module = rest[1].replace(".", "/")
            target = posixpath.join(cwd, module + ".py")
            if target not in files:
                target = posixpath.join(cwd, module, "__main__.py")
            args = tuple(rest[2:])
        else:
            target = posixpath.normpath(posixpath.join(cwd, rest[0]))
            if target == ".":
                target = ""
            if target + "/__main__.py" in files or (target == "" and "__main__.py" in files):
                target = posixpath.join(target, "__main__.py") if target else "__main__.py"
            args = tuple(rest[1:])
        target = posixpath.normpath(target)
        if target not in files and "/" not in rest[0] and rest[0].endswith(".py"):
            # `python train.py` where the only train.py sits in a folder of its own (a
            # package's pygcn/train.py): run from that folder, as its readers do.
            alike = [f for f in files if f.rsplit("/", 1)[-1] == rest[0] and not is_article_tooling(f)]
            if len(alike) == 1:
                target, cwd = alike[0], posixpath.dirname(alike[0])
                source = f"{source}, `{rest[0]}` found as {target}"
        if target in files and target.endswith(".py"):
            return Command(path=target, args=args, cwd=cwd, source=source)
        return None
    head = " ".join(tokens[:2])
    if _NB.match(head) or tokens[0] in ("jupyter-execute", "papermill"):
        for t in tokens[1:]:
            target = posixpath.normpath(posixpath.join(cwd, t))
            if t.endswith(".ipynb") and target in files:
                return Command(path=target, args=(), cwd=cwd, source=source)
    return None


def documents(files: Sequence[str]) -> list[str]:
    docs = [f for f in files if re.fullmatch(r"(?i)(readme(\.(md|rst|txt|markdown))?|makefile|gnumakefile)", f.rsplit("/", 1)[-1])]
    docs = [f for f in docs if not is_article_tooling(f + ".x") or "/" not in f]
    return sorted(docs, key=lambda f: (f.count("/"), f.rsplit("/", 1)[-1].lower().startswith("make"), f))


_DATA_FILE = re.compile(r"\.(csv|tsv|txt|json|dat|h5|hdf5|nc|npy|npz|pkl|pickle|mat|xlsx?|parquet|feather|zip|gz|swc|wav|xls)$", re.I)


_OUTPUT_OPTION = re.compile(r"^--?(o|out|output|outdir|out-dir|output-dir|save|save-dir|figdir|fig-dir|dest)$", re.I)


def missing_inputs(cmd: Command, paper: Path) -> list[str]:
    """Arguments that name an input the paper does not hold (data to download first): a
    data file, or a path whose folder is not there either. Outputs (after ``-o``/``--out``,
    or in a folder that exists) are not inputs."""
    missing = []
    previous = ""
    for a in cmd.args:
        after_output_option, previous = _OUTPUT_OPTION.match(previous) is not None, a
        if a.startswith("-") or "=" in a or PLACEHOLDER.match(a) or after_output_option or a.startswith("/") or a.endswith("/"):
            continue
        if "/" not in a and not _DATA_FILE.search(a):
            continue  # a word: a mode, a name, a number
        where = paper / cmd.cwd / a
        if where.exists():
            continue
        if _DATA_FILE.search(a) or not where.parent.is_dir():
            missing.append(a)
    return missing


def fill_placeholders(args: tuple[str, ...], script: str = "") -> tuple[tuple[str, ...], str]:
    """An argument that only stands for a path of the reader's (``/path/to/output/``,
    ``<outdir>``) becomes a folder of the working copy, as a reader would choose one; an
    option whose value is a placeholder of anything else (``--epochx <Epoch multiplier>``)
    is left out, so that the script's own default applies. One the script requires (its
    argparse says ``required=True``: ``--dir <UCI Dataset directory>``) takes the first of
    its ``choices``, else the example its help gives (``Eg: bostonHousing``), when the
    script's source (``script``) has one. Also says which were so filled, or ""."""
    out: list[str] = []
    dropped: list[str] = []
    for a in args:
        if not PLACEHOLDER.match(a):
            out.append(a)
        elif out and out[-1].startswith("-") and not _OUTPUT_OPTION.match(out[-1]):
            dropped.append(out.pop())
        else:
            out.append(f"{OUTPUT_DIR}/")
    examples = required_examples(script, dropped) if dropped and script else {}
    for option, value in examples.items():
        out += [option, value]
    return tuple(out), ", ".join(f"{o} {v}" for o, v in examples.items())


_EXAMPLE = re.compile(r"(?i)\b(?:e\.?\s?g\.?|for example|for instance)[:,]?\s+[`'\"]?([\w./-]*\w)")


def required_examples(source: str, options: Sequence[str]) -> dict[str, str]:
    """For each of ``options`` that the script's argparse requires, a value it names: the
    first of its ``choices``, else the example in its help ("Eg: bostonHousing")."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"):
            continue
        names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        wanted = next((o for o in options if o in names), None)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        required = keywords.get("required")
        if wanted is None or not (isinstance(required, ast.Constant) and required.value is True):
            continue
        choices = keywords.get("choices")
        helptext = keywords.get("help")
        if isinstance(choices, ast.List | ast.Tuple) and choices.elts and isinstance(choices.elts[0], ast.Constant):
            found[wanted] = str(choices.elts[0].value)
        elif isinstance(helptext, ast.Constant) and isinstance(helptext.value, str) and (m := _EXAMPLE.search(helptext.value)):
            found[wanted] = m.group(1)
    return found


_NOTEBOOK_NAME = re.compile(r"[^\s()\[\]<>`'\"|*]*\.ipynb")


def in_mention_order(paper: Path, files: Sequence[str], notebooks: list[str]) -> list[str]:
    """The notebooks, those the READMEs name first in the order they name them ("First,
    run [prepare.ipynb](data/prepare.ipynb) ... Next, run analysis.ipynb"), then the rest
    in their order. A name is a path from the README's folder, or a file name only one
    notebook has."""
    by_name: dict[str, list[str]] = {}
    for rel in notebooks:
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
    wanted = set(notebooks)
    first: dict[str, int] = {}
    for doc in documents(files):
        try:
            with open(paper / doc, encoding="utf-8", errors="replace") as fh:
                text = fh.read(1 << 20)
        except OSError:
            continue
        base = doc.rsplit("/", 1)[0] if "/" in doc else ""
        for m in _NOTEBOOK_NAME.finditer(text):
            name = urllib.parse.unquote(m.group(0))
            target = posixpath.normpath(posixpath.join(base, name))
            if target not in wanted:
                same = by_name.get(name.rsplit("/", 1)[-1], [])
                target = same[0] if len(same) == 1 else ""
            if target:
                first.setdefault(target, len(first))
    position = {rel: i for i, rel in enumerate(notebooks)}
    return sorted(notebooks, key=lambda rel: (first.get(rel, len(first)), position[rel]))
