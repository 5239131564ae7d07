"""OS errors through the ``torchtwolayer`` command: unreadable files, read-only folders, a file
over the size limit. Each exits with status 2 and one ``torchtwolayer: error: …`` line, without
a traceback, and changes none of the files that were there.

Permissions do not bind root, and these machines run the tests as root: the cases run in the suite's
child process (tests/child_process.py, shared with the killed runs of tests/test_interruption.py),
which runs each command once as itself (so that every module is imported: the interpreter may live
under root's 0700 home), then each case with its effective user set to ``nobody`` (uid/gid 65534).
Every expected message names the file of the case, so a module that ``nobody`` could not import
cannot pass for the case. The file size limit is ``resource.setrlimit(RLIMIT_FSIZE)``, set in that
child only."""

import errno

import pytest

from torchtwolayer.commands import _describe, _is_user_error

CASES = {  # case: words of the message
    "unreadable CSV": "data.csv: permission denied",
    "unreadable checkpoint": "permission denied: model.ckpt",
    "read-only runs folder": "read-only_runs_folder/runs/torchtwolayer;",
    "read-only working folder": "permission denied: /",
    "read-only output folder": "permission denied: out; choose",
    "read-only plot folder": "permission denied: out; choose",
    "file size limit": "a file grew past the size limit while writing runs/torchtwolayer/version_1/checkpoints/",
}


@pytest.fixture(scope="module")
def results(child_process):
    found = child_process["os"]
    if "cannot drop" in found:  # root without CAP_SETUID (some containers): permissions would not apply
        pytest.skip(f"running as root, and the privilege cannot be dropped: {found['cannot drop']}")
    return found


@pytest.mark.parametrize("case", CASES)
def test_os_error_is_one_line_and_changes_nothing(results, case):
    result = results[case]
    err = result["err"]
    assert result["status"] == 2, result
    *notes, last = err.strip().splitlines()  # a note (e.g. columns left out) may come first
    assert "Traceback" not in err and last.startswith("torchtwolayer: error: "), err
    assert all(line.startswith("note: ") for line in notes), err
    assert CASES[case] in last, err
    assert result["changed"] == [], result  # no file the user had was modified
    if case == "file size limit":  # the previous run's checkpoint stays; no temporary file is left behind
        assert "the last checkpoint is intact" in err and "fit --ckpt_path last" in err
        assert not [p for p in result["new"] if p.endswith(".tmp") or p.endswith(".ckpt")], result["new"]
    else:
        assert result["new"] == [], result["new"]


@pytest.mark.parametrize(
    "error, words",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full while writing a file; files are written"),
        (OSError(errno.EFBIG, "File too large", "x.ckpt"), "a file grew past the size limit while writing x.ckpt"),
        (PermissionError(errno.EACCES, "Permission denied", "runs"), "permission denied: runs; choose a file"),
        (PermissionError("no access to the model"), "no access to the model"),  # no file name: said once
        (IsADirectoryError("--output . is a folder; give a file name"), "--output . is a folder; give a file name"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"), "out of memory: the model or the data"),
    ],
)
def test_each_os_error_is_described_in_one_line(error, words):
    """The rule itself, for what a test cannot provoke cheaply (a full disk, a failed allocation)."""
    assert _is_user_error(error)
    text = _describe(error)
    assert text.startswith(words) and "\n" not in text and text.count("is a folder") <= 1, text
    if error.errno in (errno.ENOSPC, errno.EFBIG) if isinstance(error, OSError) else False:
        assert "the last checkpoint is intact" in text and "fit --ckpt_path last" in text
