"""The optimizers bench trains with (bench.nn.make_optimizer) follow the textbook update rules:
three steps of each on one parameter with known gradients, against the formulas written out by
hand. "In practice"'s claims about momentum, RMSprop and Adam are about these rules, so the
suites that compare them must run exactly these."""
from __future__ import annotations

import math

import pytest
import torch

from bench.nn.optim import make_optimizer

GRADS = [0.5, -1.0, 2.0]  # g_1, g_2, g_3
P0, LR = 1.0, 0.1


def _steps(name: str, impl: str, **kw) -> list[float]:
    """The parameter after each step of ``name`` fed GRADS."""
    p = torch.nn.Parameter(torch.tensor([P0], dtype=torch.float64))
    opt = make_optimizer(name, [{"params": [p], "lr_mult": 1.0, "weight_decay": kw.pop("wd", 0.0)}], LR,
                         impl=impl, **kw)
    out = []
    for g in GRADS:
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        out.append(float(p.detach()))
    return out


def _sgd(beta: float) -> list[float]:
    # M_t = beta M_{t-1} + g_t ; w_t = w_{t-1} - lr M_t   (beta = 0: plain SGD)
    w, m, out = P0, 0.0, []
    for g in GRADS:
        m = beta * m + g
        w -= LR * m
        out.append(w)
    return out


def _rmsprop(alpha: float, eps: float) -> list[float]:
    # R_t = alpha R_{t-1} + (1 - alpha) g_t^2 ; w_t = w_{t-1} - lr g_t / (sqrt(R_t) + eps)
    w, r, out = P0, 0.0, []
    for g in GRADS:
        r = alpha * r + (1 - alpha) * g * g
        w -= LR * g / (math.sqrt(r) + eps)
        out.append(w)
    return out


def _adam(b1: float, b2: float, eps: float, wd: float = 0.0, decoupled: bool = False) -> list[float]:
    # M_t = b1 M + (1 - b1) g ; R_t = b2 R + (1 - b2) g^2 ; bias-corrected M^, R^ ;
    # w_t = w - lr M^ / (sqrt(R^) + eps). Adam adds wd * w to g (L2); AdamW first shrinks w by lr * wd.
    w, m, r, out = P0, 0.0, 0.0, []
    for t, g in enumerate(GRADS, 1):
        if decoupled:
            w *= 1 - LR * wd
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        r = b2 * r + (1 - b2) * g * g
        w -= LR * (m / (1 - b1 ** t)) / (math.sqrt(r / (1 - b2 ** t)) + eps)
        out.append(w)
    return out


IMPLS = ["loop", "foreach", "auto"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_sgd_and_momentum_follow_the_formula(impl, beta):
    assert _steps("sgd", impl, momentum=beta) == pytest.approx(_sgd(beta), rel=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_momentum_is_the_moving_average_form_at_lr_times_one_minus_beta(impl):
    """The other way courses write it, M_t = beta M + (1 - beta) g, is the same run with lr / (1 - beta)."""
    beta, w, m, ema = 0.9, P0, 0.0, []
    for g in GRADS:
        m = beta * m + (1 - beta) * g
        w -= LR / (1 - beta) * m
        ema.append(w)
    assert _steps("sgd", impl, momentum=beta) == pytest.approx(ema, rel=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_rmsprop_follows_the_formula(impl):
    assert _steps("rmsprop", impl, momentum=0.0, alpha=0.99, eps=1e-8) == pytest.approx(_rmsprop(0.99, 1e-8), rel=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,decoupled", [("adam", False), ("adamw", True)])
def test_adam_and_adamw_follow_the_formula(impl, name, decoupled):
    got = _steps(name, impl, betas=(0.9, 0.999), eps=1e-8, wd=0.1)
    assert got == pytest.approx(_adam(0.9, 0.999, 1e-8, wd=0.1, decoupled=decoupled), rel=1e-12)


def test_adam_and_adamw_differ_when_there_is_weight_decay():
    """The check above can fail: L2-in-the-gradient and decoupled decay are different runs."""
    assert _steps("adam", "loop", wd=0.1) != pytest.approx(_steps("adamw", "loop", wd=0.1), rel=1e-6)
