"""A callback that SIGKILLs (or sends another signal to) its own process when training reaches a
given step (at the end of the batch whose optimizer step reaches it).

The interruption tests add it to a child ``torchtwolayer fit`` (``PYTHONPATH`` holds this folder):
a real ``kill -9`` at a known point of the run, not the outcome of a timed race.
"""

import os
import signal

from lightning.pytorch import Callback, LightningModule, Trainer


class KillAtStep(Callback):
    def __init__(self, step: int, signum: int = int(signal.SIGKILL)) -> None:
        self.step, self.signum, self.sent = step, signum, False

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        if trainer.global_step >= self.step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)
