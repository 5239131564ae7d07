"""Which learning rate α? Lightning's learning-rate finder on the network, with its picture.

``torchtwolayer lr-find`` takes ``fit``'s flags; in Python, :func:`find_lr` (or Lightning's own
``Tuner(trainer).lr_find(model, datamodule=dm)``) does the same.
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import LightningDataModule, LightningModule, Trainer

PICTURE = "lr_find.png"


def find_lr(
    trainer: Trainer,
    model: LightningModule,
    datamodule: LightningDataModule | None = None,
    path: str | Path = PICTURE,
    min_lr: float = 1e-4,
    max_lr: float = 10.0,
    num_training: int = 100,
) -> tuple[float | None, Path]:
    """Train ``num_training`` steps with α rising geometrically from ``min_lr`` to ``max_lr``
    (Lightning's ``Tuner.lr_find``; the weights are restored afterwards) and draw the cost
    against α. Returns the suggestion (the steepest descent of the smoothed cost; None when
    the cost never fell) and the picture's path.

    The model's own divergence stop is off meanwhile: the finder stops itself once the cost
    rises past four times its best."""
    from lightning.pytorch.tuner import Tuner

    from ..plots import save

    stops = getattr(model, "stop_on_divergence", None)
    if stops is not None:
        model.stop_on_divergence = False
    try:
        finder = Tuner(trainer).lr_find(
            model, datamodule=datamodule, min_lr=min_lr, max_lr=max_lr, num_training=num_training, update_attr=False
        )
    finally:
        if stops is not None:
            model.stop_on_divergence = stops
    if finder is None:  # (only on a process other than the first)
        return None, Path(path)
    figure = finder.plot(suggest=True, show=False)
    figure.axes[0].set(xlabel="learning rate α", ylabel="cost J (smoothed)")
    return finder.suggestion(), save(figure, path)


class TwoLayerTrainer(Trainer):
    """Lightning's ``Trainer`` with one more command for the CLI: ``lr_find``."""

    def lr_find(
        self,
        model: LightningModule,
        datamodule: LightningDataModule | None = None,
        min_lr: float = 1e-4,
        max_lr: float = 10.0,
        num_training: int = 100,
    ) -> tuple[float | None, Path]:
        """Suggest a learning rate: Lightning's learning-rate finder, and its picture (lr_find.png).

        Args:
            model: the LightningModule.
            datamodule: its data.
            min_lr: the smallest α tried.
            max_lr: the largest α tried.
            num_training: steps taken, one per α.
        """
        return find_lr(self, model, datamodule, PICTURE, min_lr, max_lr, num_training)


def report(suggestion: float | None, picture: Path, command: str = "torchtwolayer") -> str:
    """What ``lr-find`` prints: the suggestion, the picture, and the fit that uses it."""
    if suggestion is None:
        return f"No suggestion: the cost did not fall over the range tried; see {picture}, and widen --min_lr/--max_lr."
    return (
        f"Suggested learning rate: {suggestion:.3g} (where the smoothed cost falls fastest).\n"
        f"Picture:   {picture}\nNext:\n  {command} fit --model.lr {suggestion:.3g}"
    )
