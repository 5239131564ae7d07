"""Benchmarks: the hand-written backward against what users would pick instead.

    python -m scripts.benchmark                       # the default sections, prints markdown tables
    python -m scripts.benchmark --sections function   # one section
    python -m scripts.benchmark --markdown bench.md --json bench.json
    python -m scripts.benchmark --docs docs/benchmarks.md   # the tables into that file's marked sections
    python -m scripts.benchmark --quick               # tiny sizes: checks the script runs
    python -m scripts.benchmark --sections data scale # data loading; the 10 M-row fit (files in --data-dir)

Sections (all float32 on the CPU unless said), one module each:
  function  the Function step (TwoLayerNet.cost, backward, SGD) / the autograd step, on the same
            thread count; at the large size also / the step's two big matrix products
  fused     GradientDescent's step / the same step's gather and matrix products alone
  loop      a user's loop, new batch tensors each step: net.cost and loss(net(X), Y) / nn.Sequential
  memory    peak RSS of training steps at the large size (separate processes), bytes saved for backward
  course    the course workload: numpy (the note's equations) vs GradientDescent vs Lightning
  tabular   200 000 x 32 binary data, 64 tanh units: GradientDescent, scikit-learn, a bare PyTorch
            loop, Lightning fit and autograd + nn.Sequential, samples/s and test accuracy
  sklearn   TwoLayerClassifier vs MLPClassifier on scikit-learn's bundled sets (needs scikit-learn)
  startup   wall time of the quick commands against `import lightning.pytorch`
  busy      the default fit, `check` and the README's loop, idle and beside a competing process
  data      reading a 1 000 000 x 33 CSV and Parquet file: seconds and peak RSS per reader
  scale     (not in the default run) fit for one epoch on a 10 000 000 x 33 Parquet file
  wide      (not in the default run) fit 20 steps of a 200 x 5 000 table and of 10 000 classes:
            seconds and peak RSS beyond a narrow / few-class baseline (issue 21's goals)
  lightning (not in the default run) Lightning's own CPU time and function calls per batch: a
            trivial step with everything off, each of the command's defaults, the module under
            automatic and manual optimization; fit / bare loop at batch 256 and 1024 (issue 23's goal)

Variants run interleaved (A, B, A, B, …) in one process, several repetitions, medians. Every ratio
with a goal is printed beside it (the ``goal`` and ``met`` columns).
"""
