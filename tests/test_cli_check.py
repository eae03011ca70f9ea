"""`bench check NAME` runs the contract checks with readable PASS/FAIL lines and an exit status."""


def test_check_passes_a_good_method(cli):
    invoke, _ = cli
    res = invoke("check", "toy-mean", "--kind", "regression")
    assert res.exit_code == 0, res.output
    assert "PASS toy-mean [regression] determinism" in res.output
    assert "toy-mean: all checks passed" in res.output


def test_check_fails_a_method_returning_nan(cli):
    invoke, _ = cli
    res = invoke("check", "toy-nan")
    assert res.exit_code == 1
    assert "FAIL toy-nan [regression] finite" in res.output


def test_check_unknown_method_suggests_close_names(cli):
    invoke, _ = cli
    res = invoke("check", "toy-maen")
    assert res.exit_code == 2
    assert "did you mean" in res.output and "toy-mean" in res.output


SLOW_METHOD = '''
import numpy as np

from bench import Method, NotFittedError


class Slow(Method):
    """Stands for a network made for a GPU: its own epochs are too many for a check."""

    name = "toy-slow"
    kinds = ("regression",)
    defaults = {"epochs": 1000, "shift": 0.0}
    test_params = {"epochs": 2}

    def fit(self, train, valid, ctx):
        if self.params["epochs"] > 10:
            raise ValueError(f"{self.params['epochs']} epochs: far too slow for tiny data")
        self.mean_ = float(np.mean(train.y)) + self.params["shift"]
        return self

    def predict(self, data):
        if not hasattr(self, "mean_"):
            raise NotFittedError("fit first")
        return np.full(len(data), self.mean_)


class BadTestParams(Slow):
    name = "toy-bad-test-params"
    test_params = {"epoch": 2}
'''


def test_check_uses_the_cards_test_params_and_full_leaves_them_out(cli, plugin_dir):
    (plugin_dir / "slow_methods.py").write_text(SLOW_METHOD)
    invoke, _ = cli
    res = invoke("check", "toy-slow")
    assert res.exit_code == 0, res.output
    assert "checking with test_params {'epochs': 2}" in res.output
    assert "toy-slow: all checks passed" in res.output
    full = invoke("check", "toy-slow", "--full")
    assert full.exit_code == 1
    assert "FAIL toy-slow [regression] determinism" in full.output
    assert "1000 epochs: far too slow" in full.output


def test_check_names_test_params_the_method_does_not_have(cli, plugin_dir):
    (plugin_dir / "slow_methods.py").write_text(SLOW_METHOD)
    invoke, _ = cli
    res = invoke("check", "toy-bad-test-params")
    assert res.exit_code == 1
    assert "`test_params` sets ['epoch'], which are not in `defaults`" in res.output


def test_checker_puts_test_params_over_the_variants_params():
    from bench import Method
    from bench.plugins.checks import Checker

    class Net(Method):
        name = "net"
        kinds = ("regression",)
        defaults = {"epochs": 100, "width": 64, "lr": 0.1}
        test_params = {"epochs": 2, "width": 4}

    assert Checker(Net, {"epochs": 50, "lr": 0.5}).params == {"epochs": 2, "width": 4, "lr": 0.5}
    assert Checker(Net, {"epochs": 50}, use_test_params=False).params == {"epochs": 50}
