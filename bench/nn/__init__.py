"""The shared neural-net training core: a library every NN plugin calls, not a scheduler.

A plugin builds its model under a seed, packs its data as tensors and calls ``fit``::

    from bench import nn as bnn

    device = bnn.resolve_device(ctx.device)
    with bnn.seeded(ctx.seed, device):
        model = bnn.init_weights(MyNet(...), "kaiming")
        cfg = bnn.TrainConfig(epochs=10, batch_size=128, optimizer="adam", lr=1e-3,
                              schedule="onecycle", lr_mult={"embeds": 2.0},
                              device=str(device), seed=ctx.seed, patience=3)
        result = bnn.fit(model, ((x_cat, x_cont), y), cfg, valid=((v_cat, v_cont), v_y),
                         loss_fn=torch.nn.functional.l1_loss, metric=my_mape, metric_name="valid_mape",
                         ctx=ctx)
    out = bnn.predict(model, (t_cat, t_cont))

Determinism: on the CPU the same seed gives bitwise-equal weights and predictions. CUDA is
not bitwise deterministic (atomic adds in embedding and index backward, cuBLAS reductions),
so GPU runs agree to float tolerance only.
"""
from bench.nn.augment import CropFlip
from bench.nn.device import autocast, generator, resolve_device, seeded, synchronize
from bench.nn.optim import (OPTIMIZERS, SCHEDULES, init_weights, lr_factors, make_optimizer,
                            momentum_factors, param_groups)
from bench.nn.train import FitResult, TrainConfig, fit, predict

__all__ = ["CropFlip", "autocast", "generator", "resolve_device", "seeded", "synchronize", "OPTIMIZERS",
           "SCHEDULES", "init_weights", "lr_factors", "make_optimizer", "momentum_factors",
           "param_groups", "FitResult", "TrainConfig", "fit", "predict"]
