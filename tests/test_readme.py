"""The README is true: each ```python block runs and prints what the text around it says, and its
two commands come first, the second being exactly what CI runs."""

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks() -> dict[str, str]:
    """Each ```python block of the README by the heading of its section."""
    blocks = {}
    for section in re.split(r"^## ", README, flags=re.M)[1:]:
        heading = section.splitlines()[0]
        found = re.findall(r"```python\n(.*?)```", section, re.S)
        assert len(found) <= 1, f"one python block per README section, so each gets its test: {heading}"
        if found:
            blocks[heading] = found[0]
    return blocks


def printed(heading: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python_blocks()[heading], "README.md", "exec"), {"__name__": "readme"})
    return out.getvalue().split()


def test_every_python_block_has_its_test():
    assert sorted(python_blocks()) == sorted(TESTED)


def test_the_pytorch_example_trains():
    J, accuracy = (float(v) for v in printed("PyTorch"))
    # The README says "a cost near 0.05 and an accuracy near 1.0" and that the last digits differ
    # between CPUs (float32 kernels); 2000 steps on 400 separable points leave a wide margin to these bounds.
    assert J < 0.2 and accuracy > 0.95


def test_the_sklearn_example_scores_what_the_readme_says():
    words = printed("scikit-learn")
    assert words[:2] == ["test", "accuracy"]
    # "an accuracy above 0.95 on wine's 45 test rows": float64 training, so CPUs differ far below one row.
    assert float(words[2]) > 0.95


def test_the_per_sample_gradients_equal_torch_func():
    shape, same = " ".join(printed("torch.func, per-sample gradients and Opacus")).rsplit(" ", 1)
    assert shape == "(256, 8, 2)" and same == "True"


TESTED = ("PyTorch", "scikit-learn", "torch.func, per-sample gradients and Opacus")


def test_the_two_commands_come_first_and_ci_runs_the_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert blocks[0].endswith("torchtwolayer fit")
    ci = (ROOT / ".ci/run").read_text()
    assert blocks[1] in ci and "pytest" in blocks[1] and "mkdocs build --strict" in blocks[1]


def test_every_readme_link_to_a_file_exists():
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert links and [link for link in links if not (ROOT / link).exists()] == []


DOCS_PYTHON = [  # the docs' examples, except those the README shows too (tested above)
    (page.name, i, code)
    for page in sorted((ROOT / "docs").glob("*.md"))
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
    if code not in README
]


@pytest.mark.parametrize(("page", "index", "code"), DOCS_PYTHON, ids=[f"{p}-{i}" for p, i, _ in DOCS_PYTHON])
def test_every_python_example_of_the_docs_runs(page, index, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"docs/{page}", "exec"), {"__name__": "docs"})  # fails the test if it raises
