"""Result pages: ``results/SUITE/README.md`` (tables, plots, provenance), the page a user opens
on GitHub, and ``results/README.md``, the index of every suite with records.

Rendering only: pages are made from stored records, never by fitting anything. The text depends
only on the records (no "generated at" clock), so regenerating unchanged results changes nothing.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.version import __version__
from bench.report import plots, table
from bench.report.generated import samples_section
from bench.report.selection import suite_arg, supported
from bench.report.render import render as render_table, suite_table
from bench.data.paths import open_nofollow, write_file
from bench.plugins.registry import Registry
from bench.results.store import Store
from bench.run.suite import Suite, SuiteError, load_suite

PLOTS = (  # file, function, alt text
    ("metric-bars.png", "metric_bars", "headline metric per method, mean ± std over seeds"),
    ("time-vs-metric.png", "time_vs_metric", "fit seconds against the headline metric"),
)


def suite_page(suite: Suite, registry: Registry, store: Store, results_dir: Path,
               compare_to: str | None = None, with_plots: bool = True) -> Path:
    """Write results_dir/SUITE/README.md, its plots and table.md (what `bench table` prints);
    returns the page's path."""
    out = Path(results_dir) / suite.name
    out.mkdir(parents=True, exist_ok=True)
    write_file(out / "table.md", suite_table(suite, registry, store))  # first: the page lists it
    page = out / "README.md"
    write_file(page, page_text(suite, registry, store, out, out, compare_to, with_plots))
    return page


def page_text(suite: Suite, registry: Registry, store: Store, out: Path, plot_dir: Path,
              compare_to: str | None = None, with_plots: bool = True) -> str:
    """The text of a suite's README.md in folder ``out``; its plots are drawn into ``plot_dir``
    (``out`` when writing, a scratch folder when checking committed pages)."""
    chosen = _runnable(registry, table.chosen_records(suite, registry, store))
    sections = table.build(suite, registry, store, compare_to=compare_to)
    ranks = table.average_ranks(sections)
    figures = _plots(suite, registry, store, sections, plot_dir) if with_plots else []
    lines = [f"# {suite.table.title or 'suite ' + suite.name}", ""]
    if suite.description:
        lines += [suite.description, ""]
    lines += _status_lines(suite, chosen), ""
    lines += ["## Results", "", render_table(sections, "md", ci=True).strip(), ""]
    lines += ["Cells: mean ± std over seeds (each table's footnote says which: model seeds on one split, "
              "resampled splits or folds), then the 95 % t interval of the mean in brackets "
              "(shown from two seeds on).", ""]
    if ranks:
        lines += ["## Average rank across datasets", "", render_table([ranks], "md").strip(), ""]
    lines += samples_section(chosen)
    if figures:
        lines += ["## Plots", ""]
        lines += [f"![{alt}]({name})\n" for name, alt in figures]
    extra = sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".md", ".json", ".csv", ".tex")
                   and p.name != "README.md" and p.name not in {f for f, _ in figures}) if out.is_dir() else []
    name = suite_arg(suite, registry)
    lines += ["## Provenance", "",
              f"- Suite file: `{_rel(suite.path)}`; seeds {', '.join(map(str, suite.seeds))}"
              + (f"; split seeds {', '.join(map(str, suite.split_seeds))}" if suite.split_seeds != [0] else ""),
              f"- Made by `bench report --suite {name}` (bench {__version__}) from the run records in "
              f"`{_rel(store.runs)}`; rendering only, nothing is fitted",
              f"- Regenerate: `bench run --suite {name}` (add `--data-dir` for real data), then "
              f"`bench report --suite {name}`",
              "- Command, hardware, versions and split fingerprint of the runs: in each table's footnote"]
    if extra:
        lines.append("- Other files here: " + ", ".join(f"[{n}]({n})" for n in extra))
    return "\n".join(lines).rstrip() + "\n"


def _plots(suite: Suite, registry: Registry, store: Store, sections, plot_dir: Path) -> list[tuple[str, str]]:
    """Draw the suite's plots into plot_dir; (file name, alt text) of those its records allow."""
    figures = []
    for name, fn, alt in PLOTS:
        try:
            getattr(plots, fn)(sections, plot_dir / name, title=f"{suite.name}: {alt}")
            figures.append((name, alt))
        except ValueError:
            pass
    try:
        plots.learning_curves(table.latest_records(suite, registry, store), plot_dir / "learning-curves.png",
                              title=f"{suite.name}: learning curves")
        figures.append(("learning-curves.png", "training loss and valid metric per epoch"))
    except ValueError:
        pass  # no run of this suite has a per-epoch history
    return figures


def check(registry: Registry, store: Store, results_dir: Path, names: list[str] | None = None) -> list[str]:
    """Every committed page under results_dir that differs from what `bench report` renders from
    the records now: a line per page (README.md, table.md of each suite folder, the index).
    ``names``: these suites; default: every suite with a folder holding a README.md or table.md."""
    import tempfile

    results_dir = Path(results_dir)
    if names is None:
        names = [n for n in sorted(registry.suites)
                 if ((results_dir / n / "README.md").exists() or (results_dir / n / "table.md").exists())
                 and not (results_dir / n / "runs").is_dir()]  # a results folder of its own (results/vision)
    problems = []
    for name in names:
        suite = load_suite(registry.suite_path(name), Path(name).stem)
        out = results_dir / suite.name
        want = {"table.md": suite_table(suite, registry, store)}
        if (out / "README.md").exists() or not (out / "table.md").exists():
            with tempfile.TemporaryDirectory() as tmp, plots.dry_run():  # the figures' names, no pixels
                want["README.md"] = page_text(suite, registry, store, out, Path(tmp))
        for file, text in want.items():
            problems += _differs(out / file, text, f"bench report --suite {suite_arg(suite, registry)}")
    if (results_dir / "README.md").exists():
        problems += _differs(results_dir / "README.md", index_text(registry, store, results_dir), "bench report")
    return problems


def _differs(path: Path, text: str, command: str) -> list[str]:
    """A committed page read as a plain file only: a link or FIFO planted there is reported, never
    followed or waited on."""
    try:
        with open_nofollow(path) as f:
            have = f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return [f"{path}: missing; `{command}` writes it"]
    except OSError as exc:  # UnsafePath included
        return [f"{path}: not a page bench wrote ({exc}); remove it and run `{command}`"]
    if have != text:
        return [f"{path}: differs from what its records render; regenerate it with `{command}`"]
    return []


def _runnable(registry: Registry, chosen: list) -> list:
    """The runs that can happen: a method paired with a task kind it does not support is n/a."""
    return [(s, r) for s, r in chosen if supported(registry, s)]


def _status_lines(suite: Suite, chosen) -> str:
    recorded = [r for _, r in chosen if r is not None]
    statuses = Counter(r.status for r in recorded)
    last = max((r.finished_at for r in recorded), default="")
    text = (f"{len(recorded)} of {len(chosen)} planned runs recorded"
            + (" (" + ", ".join(f"{n} {st}" for st, n in sorted(statuses.items())) + ")" if recorded else ""))
    if last:
        text += f"; newest record {last[:10]}"
    return text + "."


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def index(registry: Registry, store: Store, results_dir: Path) -> Path:
    """results_dir/README.md: every suite with at least one record, and other result files."""
    out = Path(results_dir) / "README.md"
    write_file(out, index_text(registry, store, results_dir))
    return out


def index_text(registry: Registry, store: Store, results_dir: Path) -> str:
    results_dir = Path(results_dir)
    rows = []
    for name, path in sorted(registry.suites.items()):
        try:
            suite = load_suite(path, name)
            chosen = _runnable(registry, table.chosen_records(suite, registry, store))
        except (SuiteError, KeyError, ValueError):
            continue  # a suite naming a plugin that is not installed: nothing of it can be shown
        recorded = [r for _, r in chosen if r is not None]
        if not any(r.suite == name for r in recorded):
            continue  # none made by it: only runs it shares with another suite (whose page shows them)
        page = results_dir / name / "README.md"
        link = f"[{name}/README.md]({name}/README.md)" if page.exists() else f"`bench report --suite {name}`"
        datasets = ", ".join(dict.fromkeys(f"{s.dataset}/{s.split}" for s, _ in chosen))
        failed = sum(r.status != "ok" for r in recorded)
        runs = f"{len(recorded)}/{len(chosen)}" + (f" ({failed} not ok)" if failed else "")
        rows.append(f"| `{name}` | {suite.description} | {datasets} | {runs} | "
                    f"{max(r.finished_at for r in recorded)[:10]} | {link} |")
    lines = ["# Results", "",
             "Every suite with run records, made by the commands their pages name (nothing here is typed "
             "by hand). Rebuild this index and a suite's page with `bench report --suite NAME`.", "",
             "| suite | what | datasets / splits | runs recorded / planned | newest | page |",
             "|---|---|---|---|---|---|", *rows]
    others = sorted(p for p in results_dir.glob("*/*.md")  # a folder's own README.md too (practice/)
                    if p.parent.name not in registry.suites)
    if others:
        lines += ["", "Other results:", ""] + [f"- [{p.relative_to(results_dir)}]({p.relative_to(results_dir)})"
                                                for p in others]
    if (results_dir / "site" / "index.html").is_file():
        lines += ["", "Results site (sortable tables, interactive figures, leaderboard; `bench report --html`): "
                      "[site/index.html](site/index.html)."]
    lines += ["", f"Run records: `runs/` ({sum(1 for _ in store.records())} JSON files, one per run); "
                  "`bench export --out runs.parquet` gives them as one table for pandas."]
    return "\n".join(lines) + "\n"
