"""The documentation agrees with the code: README.md, CHANGELOG.md and docs/*.md link only to files and
headings that exist, and the README, the guides and configs/*.flags name only installed commands, and give
each command (or tools/ script) only flags it defines."""
import glob
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDES = ["README.md"] + sorted(os.path.relpath(path, PROJECT_ROOT)
                                for path in glob.glob(os.path.join(PROJECT_ROOT, "docs", "*.md")))
LINKING = GUIDES + ["CHANGELOG.md"]
FLAGFILES = sorted(os.path.relpath(path, PROJECT_ROOT)
                   for path in glob.glob(os.path.join(PROJECT_ROOT, "configs", "*.flags")))
TRAIN = "srgan-train"  # the command configs/*.flags are written for

# absl's flags that exist without being defined by a module (the parser's own and app.run's help flags).
ABSL_FLAGS = {"flagfile", "undefok", "help", "helpshort", "helpfull", "helpxml"}

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A command a doc runs: an installed script, a command module, or a tools/ script.
INVOCATION = re.compile(r"(?<![\w./-])(?:srgan-(?P<script>[a-z0-9]+(?:-[a-z0-9]+)*)"
                        r"|(?:\S*/)?python[0-9.]*\s+-m\s+srgan_tf\.(?P<module>\w+)"
                        r"|(?:(?:\S*/)?python[0-9.]*\s+)?(?:\./)?(?P<tool>tools/\w+\.py))")
# Where a command's arguments end: a shell comment, a separator, a pipe or a subshell's end.
ARGUMENTS_END = re.compile(r"\s#|;|&&|\||\)")
FLAG = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")
SCRIPT_NAME = re.compile(r"(?<![\w./-])srgan-([a-z0-9]+(?:-[a-z0-9]+)*)")

Found = Tuple[Optional[str], str, List[str]]  # command (None: any), what the doc says, the flags it names


def read(path: str) -> str:
    with open(os.path.join(PROJECT_ROOT, path), encoding="utf-8") as f:
        return f.read()


def console_scripts() -> Dict[str, str]:
    """pyproject.toml's [project.scripts]: command -> module."""
    with open(os.path.join(PROJECT_ROOT, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    return {name: target.partition(":")[0] for name, target in scripts.items()}


def shipped_model_names() -> Set[str]:
    """Names like `srgan-x4` are models, not commands."""
    catalog = json.loads(read(os.path.join("srgan_tf", "pretrained", "catalog.json")))
    return {model["name"] for model in catalog["models"]}


def split_markdown(text: str) -> Tuple[str, List[List[str]]]:
    """The prose (fenced code blocks blanked, line numbers kept) and the code blocks' lines."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if FENCE.match(line):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
            prose.append("")
        elif block is not None:
            block.append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def paragraphs(prose: str) -> List[str]:
    return re.split(r"\n\s*\n", prose)


def inline_code(prose: str) -> Iterator[str]:
    """Each inline code span, a line break inside it read as a space."""
    for paragraph in paragraphs(prose):
        for match in INLINE_CODE.finditer(paragraph):
            yield " ".join(match.group(2).split())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: str) -> Set[str]:
    prose, _ = split_markdown(read(path))
    found, seen = set(), {}
    for line in prose.splitlines():
        match = HEADING.match(line)
        if match:
            anchor = slug(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def logical_lines(lines: List[str]) -> Iterator[str]:
    """Lines with shell continuations (`\\` at the end) joined to the next."""
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
        else:
            yield pending + line
            pending = ""
    if pending:
        yield pending


def commands_run(text: str, scripts: Dict[str, str], models: Set[str]) -> Iterator[Found]:
    """Every command this text runs, with the flags between it and the end of its arguments."""
    modules = {module: name for name, module in scripts.items()}
    for match in INVOCATION.finditer(text):
        script, module, tool = match.group("script", "module", "tool")
        if script:
            command = f"srgan-{script}"
            if command in models:
                continue
        elif module:
            command = modules.get(f"srgan_tf.{module}", f"python -m srgan_tf.{module}")
        else:
            command = tool
        rest = text[match.end():]
        ends = [m.start() for m in (ARGUMENTS_END.search(rest), INVOCATION.search(rest)) if m]
        arguments = rest[:min(ends, default=len(rest))]
        yield command, " ".join((match.group(0) + arguments).split()), FLAG.findall(arguments)


def commands_in_guide(text: str, scripts: Dict[str, str], models: Set[str]) -> Iterator[Found]:
    """The commands a guide runs in its code blocks and inline code, and the flags that inline code names on
    their own (`--ema_decay`: they must belong to some command)."""
    prose, blocks = split_markdown(text)
    for block in blocks:
        for line in logical_lines(block):
            yield from commands_run(line, scripts, models)
    for code in inline_code(prose):
        if INVOCATION.search(code):
            yield from commands_run(code, scripts, models)
        elif code.startswith("--"):
            yield None, code, FLAG.findall(code)


def commands_in_flagfile(text: str, scripts: Dict[str, str], models: Set[str]) -> Iterator[Found]:
    """The flags of a flagfile's lines (srgan-train's), and the commands its comments run."""
    lines = text.splitlines()
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            yield TRAIN, line.strip(), FLAG.findall(line)
    comments = [line.lstrip()[1:] for line in lines if line.lstrip().startswith("#")]
    for line in logical_lines(comments):
        yield from commands_run(line, scripts, models)


def defined_flags() -> dict:
    """The flags of every command and tools/ script, read in a child process (`command_flags`):
    {"absl": {flag: is boolean}, "commands": {command or tools/ script: {flag: is boolean}},
    "errors": {command or tools/ script: why its flags could not be read}}; "absl" holds what absl and
    TensorFlow define themselves.

    Imports every command module and tools/ script and calls its `_define_flags()`, as its `run()` does: a
    flag several commands define is recorded for each and defined once."""
    from absl import app, flags, logging  # noqa: F401  (absl's own flags)
    import tensorflow  # noqa: F401  (whatever it defines is no command's)

    found = {"absl": {name: flags.FLAGS[name].boolean for name in flags.FLAGS}, "commands": {},
             "errors": {}}
    define = flags.FlagValues.__setitem__
    recording: Dict[str, bool] = {}

    def record(flag_values, name, flag):
        recording[name] = flag.boolean
        if name not in flag_values:
            define(flag_values, name, flag)

    def load(command: str, load_module):
        recording.clear()
        try:
            module = load_module()
            if hasattr(module, "_define_flags"):
                module._define_flags()
        except Exception as error:  # reported by the test, naming the command
            found["errors"][command] = f"{type(error).__name__}: {error}"
            return None
        found["commands"][command] = dict(recording)
        return module

    def import_tool(path: str):
        spec = importlib.util.spec_from_file_location(f"_docs_{os.path.basename(path)[:-3]}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as for any import (dataclasses look their module up there)
        spec.loader.exec_module(module)
        return module

    flags.FlagValues.__setitem__ = record
    try:
        scripts = console_scripts()
        loaded = {name: load(name, lambda: importlib.import_module(module))
                  for name, module in scripts.items()}
        for path in sorted(glob.glob(os.path.join(PROJECT_ROOT, "tools", "*.py"))):
            tool = os.path.relpath(path, PROJECT_ROOT)
            held = list(vars(load(tool, lambda: import_tool(path)) or sys).values())
            # A tool holding a command module (its flags defined on import) or its `run` takes its flags.
            for name, module in loaded.items():
                if module and any(value is module or value is getattr(module, "run", None) for value in held):
                    found["commands"].get(tool, {}).update(found["commands"][name])
    finally:
        flags.FlagValues.__setitem__ = define
    return found


@pytest.fixture(scope="module")
def command_flags() -> dict:
    child = subprocess.run([sys.executable, "-c", "import json, tests.test_docs as t; "
                            "print(json.dumps(t.defined_flags()))"],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


def unknown_flags(command: Optional[str], names: List[str], command_flags) -> List[str]:
    """The flags `command` (None: every command) does not take; absl's own and `--no<boolean>` are taken."""
    accepted = dict(command_flags["absl"], **{name: False for name in ABSL_FLAGS})
    for name, defined in command_flags["commands"].items():
        if name == command or command is None:
            accepted.update(defined)
    return [name for name in names if name not in accepted and not (
        name.startswith("no") and accepted.get(name[2:]))]


def flag_problems(where: str, found: Iterator[Found], command_flags) -> List[str]:
    problems = []
    for command, text, names in found:
        if command is not None and command not in command_flags["commands"]:
            continue  # not a command (test_every_command_named_is_installed), or unreadable (reported apart)
        for name in unknown_flags(command, names, command_flags):
            who = f"{command} has no flag" if command else "no command or tool has a flag"
            problems.append(f"{where}: {who} --{name} (in `{text}`)")
    return problems


def test_every_relative_link_resolves():
    problems = []
    for path in LINKING:
        prose, _ = split_markdown(read(path))
        prose = "\n\n".join(INLINE_CODE.sub("", paragraph) for paragraph in paragraphs(prose))
        for target in LINK.findall(prose):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file_part, _, anchor = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(os.path.join(PROJECT_ROOT, linked)):
                problems.append(f"{path}: ({target}) links to {linked}, which does not exist")
            elif anchor and (not linked.endswith(".md") or anchor not in anchors(linked)):
                problems.append(f"{path}: ({target}) links to #{anchor}, no heading of {linked}")
    assert not problems, "\n".join(problems)


def test_every_command_named_is_installed():
    scripts, models = console_scripts(), shipped_model_names()
    problems = []
    for path in GUIDES + FLAGFILES:
        text = read(path)
        for name in sorted(set(SCRIPT_NAME.findall(text))):
            if f"srgan-{name}" not in scripts and f"srgan-{name}" not in models:
                problems.append(f"{path}: srgan-{name} is not in pyproject.toml's [project.scripts]")
        for module in sorted(set(re.findall(r"python[0-9.]*\s+-m\s+srgan_tf\.(\w+)", text))):
            if f"srgan_tf.{module}" not in scripts.values():
                problems.append(f"{path}: python -m srgan_tf.{module} is not a command's module")
        for tool in sorted(set(re.findall(r"(?<![\w./-])(tools/\w+\.py)", text))):
            if not os.path.exists(os.path.join(PROJECT_ROOT, tool)):
                problems.append(f"{path}: {tool} does not exist")
    assert not problems, "\n".join(problems)


def test_every_command_and_tool_loads_and_defines_its_flags(command_flags):
    assert not command_flags["errors"], "\n".join(
        f"{command} could not be loaded to read its flags: {error}"
        for command, error in sorted(command_flags["errors"].items()))
    for command in console_scripts():
        assert command_flags["commands"][command], f"{command} defines no flags"


def test_every_flag_named_belongs_to_its_command(command_flags):
    scripts, models = console_scripts(), shipped_model_names()
    problems = []
    for path in GUIDES:
        problems += flag_problems(path, commands_in_guide(read(path), scripts, models), command_flags)
    for path in FLAGFILES:
        problems += flag_problems(path, commands_in_flagfile(read(path), scripts, models), command_flags)
    assert not problems, "\n".join(problems)


def test_a_wrong_flag_is_reported_with_its_doc_command_and_name(command_flags):
    """Found on a continuation line, in inline code and on its own; not for other programs or in comments."""
    guide = ("Use `--scale=4`, not `--scales=4`, with `srgan-upscale --nokeep_mode` or\n"
             "`srgan-export --formats=onnx`.\n\n```bash\n"
             "srgan-train --flagfile=configs/cpu.flags \\\n    --train_step=5   # --not_this\n"
             "tensorflow_model_server --model_base_path=/models\n"
             "python tools/degrade.py --variants=4 --crop=128 photos/ | pip install --upgrade pillow\n```\n")
    found = commands_in_guide(guide, console_scripts(), shipped_model_names())
    assert flag_problems("guide.md", found, command_flags) == [
        "guide.md: srgan-train has no flag --train_step (in `srgan-train --flagfile=configs/cpu.flags "
        "--train_step=5`)",
        "guide.md: no command or tool has a flag --scales (in `--scales=4`)",
        "guide.md: srgan-export has no flag --formats (in `srgan-export --formats=onnx`)"]
