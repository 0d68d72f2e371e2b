"""Live recommendation: effects suggested while a video is filmed or played (``python -m recbole_poserec.live``).

:mod:`.source` reads frames (camera, file, stream) on a thread with pacing and counted drops; :mod:`.stream`
cuts the converter's windows as person frames arrive, scores each once and keeps the running mean top-k;
:mod:`.server` (with ``page.html``) serves the latest frame, its skeleton and the top-k; ``__main__`` is the
command that joins them.
"""
