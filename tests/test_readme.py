"""The README's code runs as written."""

import contextlib
import io
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_plain_pytorch_example_trains():
    (code,) = re.findall(r"```python\n(.*?)```", README, re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    J, accuracy = (float(v) for v in out.getvalue().split())
    assert J < 0.2 and accuracy > 0.95


def test_the_two_commands_come_first_and_ci_runs_the_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert blocks[0].endswith("torchtwolayer fit")
    ci = (Path(__file__).resolve().parents[1] / ".ci/run").read_text()
    assert blocks[1] in ci
