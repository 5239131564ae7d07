"""``torchtwolayer playground``: a local page where the note's gradient descent trains while you watch.

:mod:`.settings` (a run's settings, from the URL), :mod:`.run` (data, network, steps),
:mod:`.views` (what the page draws), :mod:`.session` (a tab's worker thread), :mod:`.server` and
:mod:`.api` (the standard library's HTTP server), :mod:`.checkpoint` (downloads), :mod:`.cli`.
"""
