"""`bench new method NAME` / `bench new dataset NAME`: a working, commented plugin file from a
template shipped in the package (bench/plugins/templates), plus, for a method, a small suite to try it."""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from bench.plugins.registry import Registry, builtin_root

KINDS = ("method", "dataset")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(ValueError):
    pass


def template(name: str) -> str:
    return resources.files("bench.plugins").joinpath("templates", name).read_text()


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def is_builtin_folder(folder: Path) -> bool:
    root = builtin_root().resolve()
    return Path(folder).resolve() in (root / "plugins", root / "datasets")


def create(kind: str, name: str, folder: Path, registry: Registry) -> list[Path]:
    """Write the plugin file (and for a method its try-NAME suite) into `folder`; never overwrite."""
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if not _NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a plugin name: use lowercase letters, digits and "
                            "hyphens, starting with a letter (e.g. my-ridge)")
    taken = registry.methods if kind == "method" else registry.datasets
    if name in taken:
        raise ScaffoldError(f"a {kind} named {name!r} already exists ({taken[name].origin}); choose another name")
    folder = Path(folder)
    files = {folder / f"{name.replace('-', '_')}.py": f"{kind}.py.tmpl"}
    if kind == "method":
        files[folder / f"try-{name}.toml"] = "suite.toml.tmpl"
    existing = [p for p in files if p.exists()]
    if existing:
        raise ScaffoldError(f"{', '.join(map(str, existing))} already exists; not overwriting it "
                            "(delete it or choose another name)")
    flag = "" if is_builtin_folder(folder) else f" --plugins {folder}"
    folder.mkdir(parents=True, exist_ok=True)
    for path, tmpl in files.items():
        path.write_text(Template(template(tmpl)).substitute(name=name, class_name=class_name(name),
                                                            plugins_flag=flag))
    return list(files)


def next_steps(kind: str, name: str, folder: Path, written: list[Path]) -> str:
    flag = "" if is_builtin_folder(folder) else f" --plugins {folder}"
    lines = ["wrote " + ", ".join(map(str, written)), "", "Next:",
             f"  1. edit {written[0]}: put your model in fit() and predict()" if kind == "method"
             else f"  1. edit {written[0]}: read your data in load()",
             f"  2. bench check {name}{flag}"]
    if kind == "method":
        lines += [f"  3. bench run --suite try-{name}{flag}",
                  f"  4. bench table --suite try-{name}{flag}   (or bench report --suite try-{name}{flag})"]
    else:
        lines += [f"  3. add it to a suite: [[datasets]] name = \"{name}\" (see suites/smoke.toml)"]
    return "\n".join(lines)
