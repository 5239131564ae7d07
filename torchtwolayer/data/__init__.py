"""Data: built-in 2-D sets, Arrow reading of CSV and Parquet, the schema that learns the transform,
in-memory batches and the LightningDataModule (``data.module``, the only part that imports Lightning).

Modules, from the bottom up: ``values`` (cell values: keys, numbers in text, messages), ``table``
(the Arrow-backed ``Table``), ``csv_reader`` and ``parquet_reader`` (its two file readers),
``tables`` (``open_table``), ``target`` and ``features`` (the schema's two parts), ``schema`` (their
composition and its state), ``schema_state`` (checking a state from a checkpoint), ``fingerprint``
(the training file's size and hash), ``splits`` (train/val/test, numpy only), ``arguments`` (the
data module's argument checks), ``builtin``, ``loader`` (in-memory batches), ``module``.
"""
