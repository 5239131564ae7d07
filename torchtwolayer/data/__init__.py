"""Data: built-in 2-D sets, Arrow reading of CSV and Parquet, the schema that learns the transform,
in-memory batches and the LightningDataModule (``data.module``, the only part that imports Lightning)."""
