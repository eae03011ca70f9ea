"""Contract checks for method plugins, run on tiny data (scikit-learn's ``check_estimator``, for bench).

``run_checks(KNN, {}, "regression")`` fits the method on a tiny task of that kind and returns one
``CheckResult`` per check in ``CHECK_NAMES``. ``Checker`` does the same one check at a time
(for parametrized tests); it fits the method once for all checks, plus once more for determinism.
The card's ``test_params`` (few epochs, small widths) go on top of the given parameters, so a
network made for a GPU is checked in seconds; ``use_test_params=False`` checks them as given.
Each check raises ``AssertionError`` with a message that says what the plugin did wrong.
"""
from __future__ import annotations

import copy
import math
import pickle
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from bench.core.method import FitContext, Method, NotFittedError
from bench.core.task import KINDS, LABEL_KINDS, Part, Schema, Split, Task

CHECK_NAMES = (
    "fit-returns-self",   # fit returns the estimator itself
    "predict-shape",      # one prediction per row, as a 1-D array
    "finite",             # no NaN or inf; classification: only labels seen in train
    "determinism",        # two fits with the same seed predict the same
    "no-mutation",        # fit and predict leave X and y of every part as they were
    "unfitted-predict",   # predict before fit raises (ideally bench.NotFittedError)
    "pickle",             # a pickled and unpickled model predicts the same
    "params-unchanged",   # get_params() is the same before and after fit
    "time-budget",        # fit + predict on the tiny task within the budget
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str
    seconds: float


# -- tiny tasks ---------------------------------------------------------------------------------

def _split(n: int, seed: int) -> Split:
    order = np.random.default_rng(seed + 1).permutation(n)
    a, b = int(0.6 * n), int(0.8 * n)
    return Split("tiny", train=np.sort(order[:a]), valid=np.sort(order[a:b]), test=np.sort(order[b:]))


def tiny_task(kind: str, seed: int = 0) -> Task:
    """A few hundred seeded rows of the given kind with a clear signal; 60/20/20 split."""
    rng = np.random.default_rng(seed)
    if kind == "regression":  # store-sales-like: positive target, best modelled in logs
        n = 300
        schema = Schema(categorical={"store": 20, "day_of_week": 7, "promo": 2},
                        continuous=("distance",))
        X = pd.DataFrame({
            "store": rng.integers(0, 20, n), "day_of_week": rng.integers(0, 7, n),
            "promo": rng.integers(0, 2, n), "distance": rng.gamma(2.0, 1.0, n).astype(np.float32)})
        store_effect = rng.normal(0, 0.4, 20)
        log_sales = (8 + store_effect[X["store"]] + 0.1 * X["day_of_week"] + 0.3 * X["promo"]
                     - 0.05 * X["distance"] + rng.normal(0, 0.05, n))
        y = np.exp(log_sales.to_numpy())
        return Task("tiny-regression", kind, "sales", ("mape", "rmspe"), schema, X, y,
                    _split(n, seed), synthetic=True, target_transform="log",
                    description="tiny synthetic store sales (conformance checks)")
    if kind == "classification":
        n = 300
        schema = Schema(categorical={"colour": 5, "size": 3}, continuous=("x1", "x2"), n_classes=3)
        X = pd.DataFrame({"colour": rng.integers(0, 5, n), "size": rng.integers(0, 3, n),
                          "x1": rng.normal(size=n).astype(np.float32),
                          "x2": rng.normal(size=n).astype(np.float32)})
        score = X["x1"].to_numpy() + 0.5 * (X["colour"].to_numpy() % 3) + rng.normal(0, 0.3, n)
        y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.int64)
        return Task("tiny-classification", kind, "label", ("accuracy",), schema, X, y,
                    _split(n, seed), synthetic=True,
                    description="tiny synthetic 3-class table (conformance checks)")
    if kind == "image-classification":  # 8x8 grey images: horizontal bar, vertical bar, diagonal
        n = 240
        y = rng.integers(0, 3, n).astype(np.int64)
        images = rng.normal(40, 20, (n, 8, 8, 1))
        pos = rng.integers(1, 7, n)
        for i in range(n):
            if y[i] == 0:
                images[i, pos[i], :, 0] += 160
            elif y[i] == 1:
                images[i, :, pos[i], 0] += 160
            else:
                images[i, np.arange(8), np.arange(8), 0] += 160
        X = np.clip(images, 0, 255).astype(np.uint8)
        schema = Schema(image_shape=(8, 8, 1), n_classes=3)
        return Task("tiny-images", kind, "label", ("accuracy",), schema, X, y,
                    _split(n, seed), synthetic=True,
                    description="tiny synthetic 8x8 bar images (conformance checks)")
    if kind == "rating":  # low-rank user x item ratings on a 1..5 scale
        n_users, n_items, n = 30, 40, 400
        schema = Schema(categorical={"user": n_users, "item": n_items})
        users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
        U, V = rng.normal(0, 0.8, (n_users, 2)), rng.normal(0, 0.8, (n_items, 2))
        bias_u, bias_i = rng.normal(0, 0.5, n_users), rng.normal(0, 0.5, n_items)
        r = 3.5 + bias_u[users] + bias_i[items] + np.sum(U[users] * V[items], axis=1)
        y = np.clip(np.round(r + rng.normal(0, 0.3, n)), 1, 5).astype(np.float32)
        X = pd.DataFrame({"user": users, "item": items})
        return Task("tiny-ratings", kind, "rating", ("rmse", "mae"), schema, X, y,
                    _split(n, seed), synthetic=True,
                    description="tiny synthetic low-rank ratings (conformance checks)")
    if kind == "text-classification":  # short "reviews": sentiment words among neutral ones
        return tiny_text_task(rng, _split(240, seed))
    raise ValueError(f"no tiny task for kind {kind!r}; kinds: {KINDS}")


_TINY_WORDS = {0: "dull boring awful flat tedious", 1: "moving superb funny smart gripping",
               None: "the a film movie story cast plot it is and , . of"}


def tiny_text_task(rng: np.random.Generator, split: Split) -> Task:
    """Seeded two-class texts: each has 2-4 words of its class among 4-10 neutral ones."""
    n = len(split.train) + len(split.valid) + len(split.test)
    words = {k: v.split() for k, v in _TINY_WORDS.items()}
    y = rng.integers(0, 2, n).astype(np.int64)
    texts = []
    for label in y:
        doc = list(rng.choice(words[None], rng.integers(4, 11))) + list(rng.choice(words[int(label)], rng.integers(2, 5)))
        texts.append(" ".join(rng.permutation(doc)))
    return Task("tiny-text", "text-classification", "label", ("accuracy",), Schema(n_classes=2),
                np.array(texts, dtype=object), y, split, synthetic=True,
                description="tiny synthetic two-class texts (conformance checks)")


# -- the checks ---------------------------------------------------------------------------------

def _snapshot(part: Part) -> tuple[Any, np.ndarray]:
    return copy.deepcopy(part.X), np.array(part.y, copy=True)


def _same_data(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b) and list(a.columns) == list(b.columns) \
            and a.dtypes.equals(b.dtypes) and a.index.equals(b.index)
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _same_predictions(a: np.ndarray, b: np.ndarray, exact: bool) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    if exact:
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True))


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shapes {a.shape} vs {b.shape}"
    diff = np.flatnonzero(a.ravel() != b.ravel())
    if not len(diff):
        return "no exact difference"
    i = diff[0]
    return f"{len(diff)} of {a.size} differ, first at row {i}: {a.ravel()[i]!r} vs {b.ravel()[i]!r}"


class Checker:
    """Runs the contract checks for one method class, parameter set and task kind.

    The reference fit (and its timing, inputs snapshot and predictions) is made once, lazily,
    and shared by the checks that need it.
    """

    def __init__(self, method_cls: type[Method], params: dict[str, Any] | None = None,
                 kind: str = "regression", seed: int = 0, device: str = "cpu",
                 budget_s: float = 60.0, use_test_params: bool = True):
        self.method_cls = method_cls
        self.params = {**(params or {}), **(method_cls.test_params if use_test_params else {})}
        self.kind = kind
        self.seed = seed
        self.device = device
        self.budget_s = budget_s
        self._ref: dict[str, Any] | None = None
        self._ref_error: str | None = None

    def __repr__(self) -> str:
        return f"Checker({self.method_cls.__name__}, {self.params}, {self.kind!r})"

    # the shared reference fit
    def _task_parts(self) -> tuple[Part, Part, Part]:
        task = tiny_task(self.kind, self.seed)
        return task.part("train"), task.part("valid"), task.part("test")

    def _ctx(self) -> FitContext:
        return FitContext(seed=self.seed, device=self.device, time_budget=self.budget_s,
                          dataset=f"tiny-{self.kind}")

    def _make(self) -> Method:
        return self.method_cls(**self.params)

    def reference(self) -> dict[str, Any]:
        if self._ref is not None:
            return self._ref
        if self._ref_error is not None:
            raise AssertionError(self._ref_error)
        try:
            train, valid, test = self._task_parts()
            before = {name: _snapshot(part) for name, part in
                      (("train", train), ("valid", valid), ("test", test))}
            model = self._make()
            params_before = copy.deepcopy(model.get_params())
            t0 = time.perf_counter()
            returned = model.fit(train, valid, self._ctx())
            t_fit = time.perf_counter() - t0
            t0 = time.perf_counter()
            pred = model.predict(test)
            t_predict = time.perf_counter() - t0
        except Exception as e:  # every check that needs the fit reports this
            self._ref_error = (f"{self.method_cls.__name__}({self.params}) failed on a tiny "
                               f"{self.kind} task: {type(e).__name__}: {e}\n{traceback.format_exc()}")
            raise AssertionError(self._ref_error) from None
        self._ref = dict(model=model, returned=returned, pred=pred, train=train, valid=valid,
                         test=test, before=before, params_before=params_before,
                         params_after=copy.deepcopy(model.get_params()),
                         t_fit=t_fit, t_predict=t_predict)
        return self._ref

    # the checks
    def check_fit_returns_self(self) -> None:
        ref = self.reference()
        assert ref["returned"] is ref["model"], (
            f"fit returned {type(ref['returned']).__name__} instead of self; end fit with `return self`")

    def check_predict_shape(self) -> None:
        ref = self.reference()
        pred, n = ref["pred"], len(ref["test"])
        assert isinstance(pred, np.ndarray), (
            f"predict returned {type(pred).__name__}; return a numpy array")
        assert pred.shape == (n,), f"predict returned shape {pred.shape} for {n} rows; expected ({n},)"

    def check_finite(self) -> None:
        ref = self.reference()
        pred = np.asarray(ref["pred"])
        if self.kind in LABEL_KINDS:
            known = set(np.unique(np.asarray(ref["train"].y)).tolist())
            unknown = sorted({v for v in pred.tolist() if v not in known}, key=repr)[:5]
            assert not unknown, f"predicted labels never seen in train: {unknown}; predict class labels"
            return
        assert pred.dtype.kind in "biuf", f"predictions have dtype {pred.dtype}; expected numbers"
        bad = ~np.isfinite(pred.astype(np.float64))
        assert not bad.any(), f"{int(bad.sum())} of {len(pred)} predictions are NaN or inf"

    def check_determinism(self) -> None:
        ref = self.reference()
        train, valid, test = self._task_parts()
        model = self._make()
        model.fit(train, valid, self._ctx())
        again = model.predict(test)
        exact = not self.device.startswith("cuda")
        assert _same_predictions(ref["pred"], again, exact), (
            f"two fits with seed {self.seed} predict differently ({_first_difference(ref['pred'], again)}); "
            "seed every random source from ctx.seed")

    def check_no_mutation(self) -> None:
        ref = self.reference()
        for name, (X, y) in ref["before"].items():
            part = ref[name]
            assert _same_data(X, part.X), f"fit/predict changed X of the {name} part; work on a copy"
            assert _same_data(y, part.y), f"fit/predict changed y of the {name} part; work on a copy"

    def check_unfitted_predict(self) -> None:
        _, _, test = self._task_parts()
        model = self._make()
        try:
            model.predict(test)
        except NotFittedError:
            return
        except Exception:
            return  # any error is acceptable; NotFittedError says it best
        raise AssertionError("predict before fit returned predictions; raise bench.NotFittedError")

    def check_pickle(self) -> None:
        ref = self.reference()
        try:
            clone = pickle.loads(pickle.dumps(ref["model"]))
        except Exception as e:
            raise AssertionError(f"the fitted model does not pickle: {type(e).__name__}: {e}") from None
        pred = clone.predict(ref["test"])
        assert _same_predictions(ref["pred"], pred, exact=True), (
            f"predictions changed after a pickle round trip ({_first_difference(ref['pred'], pred)})")

    def check_params_unchanged(self) -> None:
        ref = self.reference()
        before, after = ref["params_before"], ref["params_after"]
        changed = sorted(k for k in set(before) | set(after) if repr(before.get(k)) != repr(after.get(k)))
        assert not changed, (f"fit changed parameters {changed}; keep fitted state in attributes "
                             "ending with '_', never in params")

    def check_time_budget(self) -> None:
        ref = self.reference()
        spent = ref["t_fit"] + ref["t_predict"]
        assert spent <= self.budget_s, (
            f"fit + predict on a tiny {self.kind} task took {spent:.1f} s "
            f"(fit {ref['t_fit']:.1f} s); the budget is {self.budget_s:g} s")

    # running them
    def check(self, name: str) -> Callable[[], None]:
        if name not in CHECK_NAMES:
            raise KeyError(f"unknown check {name!r}; checks: {', '.join(CHECK_NAMES)}")
        return getattr(self, "check_" + name.replace("-", "_"))

    def checks(self) -> Iterator[tuple[str, Callable[[], None]]]:
        for name in CHECK_NAMES:
            yield name, self.check(name)

    def run(self, name: str) -> CheckResult:
        t0 = time.perf_counter()
        try:
            self.check(name)()
            ok, message = True, ""
        except AssertionError as e:
            ok, message = False, str(e)
        except Exception as e:
            ok, message = False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
        return CheckResult(name, ok, message, time.perf_counter() - t0)


def checks(method_cls: type[Method], params: dict[str, Any] | None = None, kind: str = "regression",
           **kw: Any) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(name, check)`` pairs; each check raises AssertionError with a readable message."""
    return Checker(method_cls, params, kind, **kw).checks()


def run_checks(method_cls: type[Method], variant_params: dict[str, Any] | None = None,
               kind: str | None = None, budget_s: float = 60.0, seed: int = 0, device: str = "cpu",
               names: tuple[str, ...] | None = None, use_test_params: bool = True) -> list[CheckResult]:
    """Run the contract checks; ``kind`` defaults to the method's first supported kind."""
    kind = kind or (method_cls.kinds[0] if method_cls.kinds else "regression")
    checker = Checker(method_cls, variant_params, kind, seed=seed, device=device, budget_s=budget_s,
                      use_test_params=use_test_params)
    return [checker.run(n) for n in (names or CHECK_NAMES)]


def card_problems(method_cls: type[Method]) -> list[str]:
    """What is wrong with a method's card (name, kinds, defaults, variants), as readable lines."""
    problems = []
    where = f"{method_cls.__module__}.{method_cls.__qualname__}"
    if not method_cls.name:
        problems.append(f"{where}: set `name`")
    if not method_cls.kinds:
        problems.append(f"{where}: set `kinds` to some of {KINDS}")
    problems += [f"{where}: unknown kind {k!r}; kinds: {KINDS}" for k in method_cls.kinds if k not in KINDS]
    for variant, params in method_cls.all_variants().items():
        unknown = [p for p in params if p not in method_cls.defaults]
        if unknown:
            problems.append(f"{where}: variant {variant!r} sets {unknown}, which are not in `defaults`")
    unknown = [p for p in method_cls.test_params if p not in method_cls.defaults]
    if unknown:
        problems.append(f"{where}: `test_params` sets {unknown}, which are not in `defaults`")
    for k, v in method_cls.defaults.items():
        if isinstance(v, float) and not math.isfinite(v):
            problems.append(f"{where}: default {k}={v!r} is not finite")
    return problems




