"""The package's layers (docs/design.md): a module imports only from its own layer and the layers below it, at
module level or inside a function alike, so each layer can be read, tested and reused without the ones above."""
import ast
import pathlib

import srgan_tf

PACKAGE = pathlib.Path(srgan_tf.__file__).parent

# Lowest first. The registry names implementations in upper layers as strings, imported when they are used:
# that is how config.py offers their names as choices without importing them.
LAYERS = (
    ("srgan_tf.common", "srgan_tf.registry"),
    ("srgan_tf.config", "srgan_tf.config_flags"),
    ("srgan_tf.data", "srgan_tf.modeling"),
    ("srgan_tf.pretrained", "srgan_tf.serving"),
    ("srgan_tf.deploy",),
    ("srgan_tf.evaluation",),
    ("srgan_tf.training",),
    # The commands and the Python API (the package itself).
    ("srgan_tf.train", "srgan_tf.evaluate", "srgan_tf.export", "srgan_tf.make_records", "srgan_tf.upscale",
     "srgan_tf.client", "srgan_tf.interpolate", "srgan_tf"),
)


def layer_of(module: str) -> int:
    """The layer of `module`: that of the longest prefix named in LAYERS."""
    best, best_length = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def module_name(path: pathlib.Path) -> str:
    parts = ("srgan_tf",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(source: str):
    """Every srgan_tf module that `source` imports, anywhere in it (module level or inside a function), with
    its line: `from srgan_tf.data import schema` imports srgan_tf.data.schema."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}") else node.module
                     for alias in node.names]
        else:
            continue
        yield from ((name, node.lineno) for name in names if name.split(".")[0] == "srgan_tf")


def upward_imports(source: str, module: str):
    """The imports of `module` (whose text is `source`) from a layer above its own, described."""
    return [f"line {line}: {module} (layer {layer_of(module)}) imports {name} (layer {layer_of(name)})"
            for name, line in imported_modules(source) if layer_of(name) > layer_of(module)]


def test_no_module_imports_from_a_layer_above_its_own():
    relative = [str(path) for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative, f"relative imports, which this check does not follow: {relative}"
    upward = [f"{path.relative_to(PACKAGE.parent)}: {found}" for path in sorted(PACKAGE.rglob("*.py"))
              for found in upward_imports(path.read_text(), module_name(path))]
    assert not upward, "imports from a layer above:\n" + "\n".join(upward)


def test_the_check_reports_an_upward_import_even_inside_a_function():
    source = "import os\n\ndef load():\n    from srgan_tf.training import trainer\n"
    assert upward_imports(source, "srgan_tf.evaluation.upscalers") == [
        "line 4: srgan_tf.evaluation.upscalers (layer 5) imports srgan_tf.training.trainer (layer 6)"]
    assert upward_imports("from srgan_tf.common import files\n", "srgan_tf.training.job") == []
