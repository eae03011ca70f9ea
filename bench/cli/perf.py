"""`bench perf`: speed benchmarks, ratios against baselines measured in the same process."""
from __future__ import annotations

from pathlib import Path

import click

from bench.data import paths
from bench.cli.options import (parse_params, plugins_option, results_option,
                               registry_for, suite_for)


@click.group()
def perf() -> None:
    """Speed benchmarks: ratios against baselines measured in the same process."""


@perf.command("tabular")
@click.option("--dataset", default="rossmann", show_default=True, help="A tabular dataset (rossmann-sim for a quick try).")
@click.option("--split", help="Split (default: the dataset's default).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch", "batches", default="128,1024", show_default=True, help="Batch sizes, comma-separated.")
@click.option("--rows", type=int, help="Use only the first N train rows for the loop measurements.")
@click.option("--trials", type=int, default=3, show_default=True)
@click.option("--no-peer", is_flag=True, help="Skip the time-to-quality comparison (bench ee vs fastai).")
@click.option("--ee-variant", default="ee-1cycle", show_default=True)
@click.option("--ee-param", "ee_params", multiple=True, help="Override a parameter of the ee variant, e.g. epochs=6.")
@click.option("--sections", default="overhead,dataloader,onehot,quality", show_default=True,
              help="Which measurements to run, comma-separated.")
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_tabular(dataset, split, device, batches, rows, trials, no_peer, ee_variant, ee_params, sections,
                 data_dir, cache_dir, out, plugins) -> None:
    """NN core speed on a real tabular task: loop overhead vs the bare step, vs a DataLoader loop,
    embedding-bag vs dense one-hot, and time to quality against fastai's tabular_learner."""
    from tabulate import tabulate

    from bench.core import environment
    from bench.perf import tabular as perf_mod
    from bench.run.execute import load_task
    from bench.core.spec import RunSpec

    reg = registry_for(plugins)
    try:
        split = reg.dataset(dataset).build().check_split(split)
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    spec = RunSpec(suite="", dataset=dataset, dataset_params=(), split=split, method="", params=(), seed=0)
    from bench.core.dataset import FilesMissing

    try:
        task = load_task(reg, spec, paths.data_dir(data_dir), paths.cache_dir(cache_dir))
    except FilesMissing as exc:
        raise click.ClickException(str(exc))
    dev = environment.resolve_device(device)
    overrides = parse_params(ee_params, "--ee-param")
    chosen = tuple(s for s in sections.split(",") if s)
    unknown = [s for s in chosen if s not in perf_mod.SECTIONS]
    if unknown:
        raise click.UsageError(f"unknown section(s) {unknown}; choose from {', '.join(perf_mod.SECTIONS)}")
    rows_out = perf_mod.run_tabular(reg, task, device=dev, batches=[int(b) for b in batches.split(",")],
                                    rows=rows, trials=trials, peer=not no_peer, ee_variant=ee_variant,
                                    sections=chosen, ee_params=overrides)
    if out:
        lines = [f"# bench perf tabular: {dataset}/{split}", "",
                 f"- Command: `{environment.command_line()}`",
                 f"- Hardware: {environment.hardware(dev)}; device `{dev}`; "
                 f"{perf_mod.torch_threads()} torch threads (OMP_NUM_THREADS sets them)",
                 "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                 f"- Split fingerprint: `{task.split.fingerprint}`", ""]
        for section in dict.fromkeys(r["section"] for r in rows_out):
            part = [{k: v for k, v in r.items() if k != "section"} for r in rows_out if r["section"] == section]
            lines += [f"## {section}", "", tabulate(part, headers="keys", tablefmt="github", floatfmt=".4g"), ""]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(lines))
        click.echo(f"wrote {out}", err=True)


@perf.command("harness")
@click.option("--suite", "suite_name", default="smoke", show_default=True, help="The suite to run.")
@click.option("--settings", default="inline,1,2", show_default=True,
              help="Comma-separated: 'inline' (in this process, no isolation) and numbers of worker jobs.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_harness(suite_name, settings, device, data_dir, cache_dir, out, plugins) -> None:
    """Harness overhead: a suite's total wall time against the sum of its plugins' own fit + predict
    time, in-process and in worker processes (serial and parallel), into a temporary results folder."""
    from tabulate import tabulate

    from bench.core import environment
    from bench.perf import harness as harness_perf

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    chosen = [s.strip() for s in settings.split(",") if s.strip()]
    bad = [s for s in chosen if s != "inline" and not (s.isdigit() and int(s) > 0)]
    if bad:
        raise click.UsageError(f"--settings: {', '.join(bad)} is neither 'inline' nor a number of jobs")
    dev = environment.resolve_device(device)
    rows = harness_perf.measure(reg, suite.expand(reg), chosen, paths.data_dir(data_dir), paths.cache_dir(cache_dir),
                                device=dev, echo=lambda m: click.echo(m))
    if out:
        text = "\n".join([f"# bench perf harness: suite {suite.name}", "",
                          f"- Command: `{environment.command_line()}`",
                          f"- Hardware: {environment.hardware(dev)}; device `{dev}`",
                          "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                          "- overhead ratio = wall time of the whole run / sum of the plugins' fit + predict "
                          "seconds (1.0 = no overhead; with N jobs, 1/N is ideal)", "",
                          tabulate(rows, headers="keys", tablefmt="github"), ""])
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)


@perf.command("collab")
@click.option("--folds", default="u1,u2,u3,u4,u5", show_default=True, help="movielens splits, comma-separated.")
@click.option("--release", default="ml-100k", show_default=True)
@click.option("--methods", default=",".join(("global-mean", "bias", "item-knn", "mf", "mf-fastai", "ncf", "blend")),
              show_default=True, help="bench variants, comma-separated.")
@click.option("--peers", default="surprise-baseline,surprise-svd,surprise-svdpp,surprise-knnbaseline,fastai-collab",
              show_default=True, help="Peers, comma-separated ('' for none); missing packages are skipped.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_collab(folds, release, methods, peers, seed, data_dir, cache_dir, out, plugins) -> None:
    """bench's CF methods next to scikit-surprise (SVD, SVD++, KNNBaseline, BaselineOnly) and
    fastai's collab_learner on the same MovieLens folds: RMSE, MAE and fit seconds."""
    from tabulate import tabulate

    from bench.core import environment
    from bench.perf import collab as perf_collab
    from bench.core.dataset import FilesMissing, LoadContext

    reg = registry_for(plugins)
    ds = reg.dataset("movielens").build({"release": release})
    ctx = LoadContext(data_dir=paths.data_dir(data_dir), cache_dir=paths.cache_dir(cache_dir))
    try:
        tasks = {f: ds.load(ds.check_split(f), ctx) for f in folds.split(",") if f}
    except FilesMissing as exc:
        raise click.ClickException(str(exc))
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    variants = [m for m in methods.split(",") if m]
    for v in variants:
        reg.method(v)  # unknown names fail here, with close matches
    unknown = [p for p in peers.split(",") if p and p not in perf_collab.PEERS]
    if unknown:
        raise click.UsageError(f"unknown peer(s) {unknown}; choose from {', '.join(perf_collab.PEERS)}")
    rows = perf_collab.run_collab(reg, tasks, variants, [p for p in peers.split(",") if p], seed,
                                  echo=lambda m: click.echo(m, err=True))
    ratio = perf_collab.time_ratio(rows)
    table = tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4f")
    click.echo(table)
    lines = []
    if ratio:
        lines.append(f"mf vs surprise-svd: fit time ratio {ratio['time_ratio']:.2f}x, RMSE "
                     f"{ratio['rmse_ours']:.4f} vs {ratio['rmse_theirs']:.4f}")
        click.echo(lines[-1])
    if out:
        fp = ", ".join(f"{f} `{t.split.fingerprint}`" for f, t in tasks.items())
        head = [f"# bench perf collab: MovieLens {release}, folds {folds}", "",
                f"- Command: `{environment.command_line()}`",
                f"- Hardware: {environment.hardware('cpu')}",
                "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                f"- Split fingerprints: {fp}",
                "- Everyone trains on each fold's train part (its .base less bench's 5 % valid rows) and is "
                "scored on its .test rows; RMSE and MAE are means over the folds, fit seconds their sum.", ""]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(head + [table, ""] + lines) + "\n")
        click.echo(f"wrote {out}", err=True)


@perf.command("item-knn")
@click.option("--users", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--items", type=click.IntRange(min=1), default=11000, show_default=True,
              help="Items in the release (those nobody rated drop out: 9,870 are left at the defaults).")
@click.option("--density", type=float, default=0.0115, show_default=True,
              help="Share of user x item pairs rated (defaults: ~100k train ratings, as ml-latest-small).")
@click.option("--variant", default="item-knn", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
def perf_item_knn(users, items, density, variant, out) -> None:
    """item-knn's peak memory and fit time on a movielens-sim release: the plugin against the dense
    whole-matrix similarity it replaced, each fitting and predicting in its own process."""
    from tabulate import tabulate

    from bench.core import environment
    from bench.perf import itemknn

    params = {"n_users": users, "n_items": items, "density": density}
    rows = itemknn.measure(params, variant, echo=lambda m: click.echo(m, err=True))
    cols = ("similarity", "peak_mb", "fit_increase_mb", "fit_s", "predict_s", "peak_vs_dense", "fit_s_vs_dense",
            "same_predictions")
    table = tabulate([{c: r[c] for c in cols} for r in rows], headers="keys", tablefmt="github")
    click.echo(table)
    if out:
        r = rows[0]
        text = "\n".join([f"# bench perf item-knn: {variant} on movielens-sim", "",
                          f"- Command: `{environment.command_line()}`",
                          f"- Hardware: {environment.hardware('cpu')}",
                          "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                          f"- Data: movielens-sim {params}, split `random` (fingerprint `{r['fingerprint']}`): "
                          f"{r['ratings']:,} train ratings, {r['users']:,} users, {r['items']:,} items",
                          "- Each row fits and predicts in a fresh process; peak_mb is that process's VmHWM "
                          "(interpreter, data and all), fit_increase_mb the peak less its resident size just "
                          "before the fit; `dense` is the whole-matrix similarity item-knn used before (four "
                          "float64 n_items² arrays), kept in bench/perf/itemknn.py as the baseline; "
                          "same_predictions: the test predictions are bitwise the dense version's.",
                          "", table, ""])
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)


@perf.command("cli")
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Runs per command; the median wall time and the largest peak memory are shown.")
@click.option("--runs", "n_runs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Tiny runs for the harness overhead per run.")
@results_option
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the figures as Markdown here.")
def perf_cli(repeat, n_runs, results_dir, out) -> None:
    """What bench itself costs: `bench table` / `bench list` start (wall time, peak memory), the
    parent of `bench run`, a tree-baseline worker's start, the harness overhead per tiny run;
    each against its target. Measure on a quiet machine."""
    from tabulate import tabulate

    from bench.core import environment
    from bench.perf import startup

    rows = startup.measure(Path(results_dir), repeat=repeat, n_runs=n_runs, echo=click.echo)
    if out:
        text = "\n".join(["# bench perf cli", "", f"- Command: `{environment.command_line()}`",
                          f"- Hardware: {environment.hardware('cpu')}",
                          "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                          "", tabulate(rows, headers="keys", tablefmt="github"), ""])
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
