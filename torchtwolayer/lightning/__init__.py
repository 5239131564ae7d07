"""Lightning: the LightningModule, checkpoints, the ``torchtwolayer`` LightningCLI and the plot command."""
