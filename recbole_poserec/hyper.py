"""Hyper-parameter search for plug-in and RecBole models: RecBole's ``HyperTuning`` (hyperopt) or Ray Tune.

Each trial is one full plug-in run (:func:`recbole_poserec.quick_start.run_recbole`, ``saved=False``: the
plug-in's dataset, trainer and evaluator) with the trial's parameters as its ``config_dict``; the search
selects on the run's validation metric (``valid_metric``). RecBole's own ``objective_function`` cannot
find plug-in models (it builds RecBole's ``Config``), hence :func:`run_trial`.

The parameters file is RecBole's format, one parameter a line (``name type values``):

* ``learning_rate choice [0.001,0.0001]`` -- a Python list of literals (a string such as ``'[64,32]'``
  is read as a setting value would be: a list);
* ``dropout uniform 0.0,0.5`` -- uniform on [low, high];
* ``gcn_layers quniform 1,4,1`` -- round(uniform(low, high) / q) * q; an integer when low, high and q are;
* ``weight_decay loguniform -13.8,-6.9`` -- exp(uniform(low, high)): the bounds are natural logarithms,
  as in hyperopt and RecBole.

Blank lines and lines starting with ``#`` are skipped. Unlike RecBole's reader, a line that does not
parse is a one-line :class:`~dataset_conversion.errors.DataError` naming the file and the line, values are
read with :func:`ast.literal_eval` (not ``eval``), and a name that no settings layer defines (a typo) is
refused before the first trial.

Results: ``OUT.csv`` and ``OUT.md`` hold every trial sorted by the validation metric (failed trials
last, with their one-line reason), the validation metrics and -- marked ``test`` -- the test metrics
RecBole reports for the same run (not used for selection); ``OUT.json`` holds the search's identity and
the trials at full precision. All three are rewritten atomically after every trial.

Resume: a re-run with the same ``OUT`` replays the search with the same ``search_seed`` and, for each
trial it suggests, takes the recorded result instead of training when ``OUT.json`` holds that trial
(same position, same parameters); only the missing trials run. For ``exhaustive`` and ``random`` the
suggestions do not depend on results, for ``bayes`` (TPE) they depend on the earlier results, which the
replay hands back exactly; so all three continue the very search that was cut short, and a larger
``max_evals`` extends it. Ray Tune runs trials concurrently, so the order in which results arrive (and
TPE's suggestions) is not reproducible: with ``tool ray`` resume is offered for ``exhaustive`` and
``random`` (finished parameter sets are skipped) and refused for ``bayes``.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from dataset_conversion.atomic import atomic_file
from dataset_conversion.entrypoint import one_line
from dataset_conversion.errors import DataError

SEARCH_TYPES = ("choice", "uniform", "quniform", "loguniform")  # RecBole's HyperTuning._build_space_from_file
ALGORITHMS = ("exhaustive", "random", "bayes")
TOOLS = ("hyperopt", "ray")
STATE_FORMAT = "recbole-poserec hyper-parameter search"
STATE_VERSION = 1
CSV_FIRST_COLUMNS = ["rank", "trial", "status"]
MARKDOWN_TITLE = "# Hyper-parameter search"
RECBOLE_EARLY_STOP = 10  # RecBole's run_hyper: stop after this many trials without a better validation score
MAX_PARAMS_FILE_BYTES = 64 * 1024


# ------------------------------------------------------------------------------------ the parameters file


@dataclass(frozen=True)
class SearchParameter:
    """One line of a parameters file: ``name``, ``kind`` (one of :data:`SEARCH_TYPES`), ``values`` (the
    choices, or the bounds ``(low, high)`` / ``(low, high, q)``) and the 1-based ``line``."""

    name: str
    kind: str
    values: tuple
    line: int

    @property
    def integer(self) -> bool:
        """A ``quniform`` whose bounds and step are integers samples integers."""
        return self.kind == "quniform" and all(float(v).is_integer() for v in self.values)

    def describe(self) -> list:
        """Plain data for the search's identity."""
        return [self.name, self.kind, list(self.values)]


def _numbers(text: str, count: int, file, line: int, kind: str) -> tuple[float, ...]:
    parts = [part.strip() for part in text.split(",")]
    shape = {2: "low,high", 3: "low,high,q"}[count]
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise DataError(file, f"line {line}: {kind} takes {shape} (finite numbers), got {text!r}")
    if values[0] >= values[1]:
        raise DataError(file, f"line {line}: {kind} needs low < high, got {text!r}")
    if count == 3 and values[2] <= 0:
        raise DataError(file, f"line {line}: quniform needs a step q > 0, got {text!r}")
    return values


def parse_params_line(text: str, file, line: int) -> SearchParameter | None:
    """One line of a parameters file, or None for a blank line or a ``#`` comment."""
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    parts = stripped.split(None, 2)
    if len(parts) < 3:
        raise DataError(file, f"line {line}: expected 'name type values' "
                              f"(type one of {', '.join(SEARCH_TYPES)}), got {stripped!r}")
    name, kind, rest = parts
    if not name.isidentifier():
        raise DataError(file, f"line {line}: {name!r} is not a setting name")
    if kind not in SEARCH_TYPES:
        raise DataError(file, f"line {line}: unknown type {kind!r} for {name}; "
                              f"the types are {', '.join(SEARCH_TYPES)}")
    if kind == "choice":
        try:
            values = ast.literal_eval(rest)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise DataError(file, f"line {line}: choice takes a list of literals such as [0.001,0.0001], "
                                  f"got {rest!r}") from None
        if not isinstance(values, list) or not values:
            raise DataError(file, f"line {line}: choice takes a non-empty list, got {rest!r}")
        if len({repr(v) for v in values}) != len(values):
            raise DataError(file, f"line {line}: choice lists a value twice: {rest!r}")
        return SearchParameter(name, kind, tuple(values), line)
    count = 3 if kind == "quniform" else 2
    return SearchParameter(name, kind, _numbers(rest, count, file, line, kind), line)


def read_params_file(path: str | os.PathLike) -> list[SearchParameter]:
    """Every parameter of a parameters file (see the module docstring); one-line DataError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "parameters file not found" if not path.exists() else "parameters file is not a file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PARAMS_FILE_BYTES + 1)
        if len(data) > MAX_PARAMS_FILE_BYTES:
            raise DataError(path, f"parameters file is larger than {MAX_PARAMS_FILE_BYTES // 1024} KiB; "
                                  "it holds one line per searched setting")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read the parameters file ({type(err).__name__})") from None
    parameters: dict[str, SearchParameter] = {}
    for number, line_text in enumerate(text.splitlines(), start=1):
        parameter = parse_params_line(line_text, path, number)
        if parameter is None:
            continue
        if parameter.name in parameters:
            raise DataError(path, f"line {number}: {parameter.name} is already searched on line "
                                  f"{parameters[parameter.name].line}")
        parameters[parameter.name] = parameter
    if not parameters:
        raise DataError(path, "no parameter to search: expected lines 'name type values', "
                              "e.g. learning_rate choice [0.001,0.0001]")
    return list(parameters.values())


def check_parameters(parameters: list[SearchParameter], params_file, settings: dict, fixed: list[str],
                     algo: str, model: str, dataset: str) -> None:
    """Refuse, before any trial, a parameter no settings layer defines, one also fixed on the command line,
    and a non-choice parameter for the exhaustive search (hyperopt enumerates choices only)."""
    fixed_keys = {arg[2:].partition("=")[0] for arg in fixed}
    for parameter in parameters:
        where = f"line {parameter.line}: {parameter.name}"
        if parameter.name in ("model", "dataset"):
            raise DataError(params_file, f"{where} cannot be searched; give one model and one dataset per search")
        if parameter.name not in settings:
            raise DataError(params_file, f"{where} is not a setting of {model} on {dataset} (no settings layer "
                                         "defines it; a typo?)")
        if parameter.name in fixed_keys:
            raise DataError(params_file, f"{where} is also given as --{parameter.name}; search it or fix it")
        if algo == "exhaustive" and parameter.kind != "choice":
            raise DataError(params_file, f"{where} is {parameter.kind}: the exhaustive search enumerates choice "
                                         "parameters only (use --algo random or bayes)")


def grid_size(parameters: list[SearchParameter]) -> int:
    """The number of parameter combinations of an all-choice search."""
    return math.prod(len(p.values) for p in parameters)


def quiet_imports() -> None:
    """hyperopt 0.2.5 and ray 2.6 import the deprecated ``pkg_resources``; its warning is no concern of a user."""
    import warnings

    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)


def hyperopt_space(parameters: list[SearchParameter]) -> dict:
    """The hyperopt search space RecBole's ``HyperTuning`` builds from the same file (plus integer quniform)."""
    quiet_imports()
    from hyperopt import hp
    from hyperopt.pyll import scope

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = hp.choice(p.name, list(p.values))
        elif p.kind == "uniform":
            space[p.name] = hp.uniform(p.name, *p.values)
        elif p.kind == "loguniform":
            space[p.name] = hp.loguniform(p.name, *p.values)
        else:
            node = hp.quniform(p.name, *p.values)
            space[p.name] = scope.int(node) if p.integer else node
    return space


def ray_space(parameters: list[SearchParameter], algo: str) -> dict:
    """The same space for Ray Tune (as RecBole's ``run_hyper.py --tool Ray``: loguniform over exp(bounds));
    ``exhaustive``: every choice as a grid axis."""
    from ray import tune

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = tune.grid_search(list(p.values)) if algo == "exhaustive" else tune.choice(list(p.values))
        elif p.kind == "uniform":
            space[p.name] = tune.uniform(*p.values)
        elif p.kind == "loguniform":
            space[p.name] = tune.loguniform(math.exp(p.values[0]), math.exp(p.values[1]))
        elif p.integer:
            space[p.name] = tune.qrandint(*(int(v) for v in p.values))
        else:
            space[p.name] = tune.quniform(*p.values)
    return space


def plain_value(value):
    """A sampled value as plain JSON data (numpy scalars become Python numbers)."""
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
        return value.item()
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------- one trial


def run_trial(model: str, dataset: str, config_files: list[str] | None, settings: list[str], params: dict,
              threads: int) -> dict:
    """One full plug-in run with ``params`` as its ``config_dict``: the trial's record.

    ``status`` ``ok`` with ``valid_score`` (the ``valid_metric``), ``bigger``, ``valid``, ``test`` and
    ``test_video`` (metric -> value); or ``failed`` with ``error``, the one-line reason a run refused its
    settings or stopped (the search goes on). ``threads`` caps torch's threads for the trial.
    """
    import torch

    from recbole_poserec.quick_start import run_recbole

    torch.set_num_threads(threads)
    root = logging.getLogger()
    for handler in root.handlers[:]:  # RecBole's init_logger adds its handlers only to a bare root logger
        root.removeHandler(handler)  # so each trial gets its own log file, as RecBole's objective_function does
        handler.close()
    record = {"params": {k: plain_value(v) for k, v in params.items()}}
    started = time.perf_counter()
    try:
        result = run_recbole(model=model, dataset=dataset, config_file_list=config_files,
                             config_dict=dict(params), saved=False, command_line=list(settings))
    except DataError as err:
        record.update(status="failed", error=str(err))
    except (ValueError, RuntimeError, ArithmeticError) as err:  # a setting the model or torch cannot run with
        record.update(status="failed", error=one_line(f"{type(err).__name__}: {err}"))
    else:
        score = float(result["best_valid_score"])
        record.update(status="ok" if math.isfinite(score) else "failed",
                      valid_metric=result["config"]["valid_metric"].lower(), valid_score=score,
                      bigger=bool(result["valid_score_bigger"]),
                      valid=_metrics(result["best_valid_result"]), test=_metrics(result["test_result"]),
                      test_video=_metrics(result["test_video_result"]))
        if not math.isfinite(score):
            record["error"] = f"the validation score is {score}"
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def _metrics(result) -> dict:
    return {} if result is None else {str(k): float(v) for k, v in result.items()}


# -------------------------------------------------------------------------------------- results files


def output_paths(output: str | os.PathLike) -> dict[str, Path]:
    """``OUT.csv``, ``OUT.md`` and ``OUT.json`` (a ``.csv``/``.md``/``.json`` suffix of ``output`` is dropped)."""
    output = Path(output)
    if output.suffix in (".csv", ".md", ".json"):
        output = output.with_suffix("")
    if output.name in ("", ".", ".."):
        raise DataError(os.fspath(output) or "''", "--output_file must name a file")
    return {kind: output.with_name(f"{output.name}.{kind}") for kind in ("csv", "md", "json")}


def _is_state(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == STATE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _first_line_starts(prefix: str):
    def replaces(path: Path) -> bool:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.readline().startswith(prefix)
        except (OSError, UnicodeDecodeError):
            return False

    return replaces


REPLACES = {"json": _is_state, "csv": _first_line_starts(",".join(CSV_FIRST_COLUMNS)),
            "md": _first_line_starts(MARKDOWN_TITLE)}
NOT_OURS = "exists and is not a table of this command; choose another --output_file or remove it"


def search_identity(model, dataset, tool, algo, search_seed, parameters, settings, config_files) -> dict:
    """What must be equal for a re-run to resume a search (max_evals, early_stop and threads may change)."""
    files = []
    for file in config_files or []:
        try:
            digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        except OSError:
            digest = None
        files.append([os.fspath(file), digest])
    return {"model": model, "dataset": dataset, "tool": tool, "algo": algo, "search_seed": search_seed,
            "parameters": [p.describe() for p in parameters], "settings": sorted(settings), "config_files": files}


def read_state(path: Path, identity: dict) -> list[dict]:
    """The recorded trials of an earlier run of the same search, [] if there is none; DataError for a file
    that is not ours or belongs to another search."""
    if not os.path.lexists(path):
        return []
    if not _is_state(path):
        raise DataError(path, NOT_OURS)
    state = json.loads(path.read_text(encoding="utf-8"))
    recorded = state.get("search", {})
    for key, value in identity.items():
        if json.loads(json.dumps(value)) != recorded.get(key):
            raise DataError(path, f"holds another search ({key}: recorded {recorded.get(key)!r}, now {value!r}); "
                                  "choose another --output_file or remove it")
    trials = state.get("trials")
    if not isinstance(trials, list) or not all(isinstance(t, dict) and "params" in t for t in trials):
        raise DataError(path, "the trials list is malformed; remove the file to start the search anew")
    return trials


def ranked(trials: list[dict]) -> list[dict]:
    """Finished trials best first by the validation metric (its direction from the run), failed ones last."""
    ok = [t for t in trials if t["status"] == "ok"]
    bigger = ok[0]["bigger"] if ok else True
    ok.sort(key=lambda t: (-t["valid_score"] if bigger else t["valid_score"], t["trial"]))
    return ok + sorted((t for t in trials if t["status"] != "ok"), key=lambda t: t["trial"])


def _columns(trials: list[dict], parameters: list[SearchParameter]) -> tuple[list[str], list[tuple[str, str]]]:
    metric_columns = []
    for part, label in (("valid", "valid"), ("test", "test"), ("test_video", "test (video)")):
        names = list(dict.fromkeys(name for t in trials for name in t.get(part, {})))
        metric_columns += [(part, name, f"{label} {name}") for name in names]
    return [p.name for p in parameters], metric_columns


def _value_text(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def table_rows(trials: list[dict], parameters: list[SearchParameter]) -> tuple[list[str], list[list]]:
    """Header and rows of the results table (ranked)."""
    names, metric_columns = _columns(trials, parameters)
    header = CSV_FIRST_COLUMNS + names + [label for _, _, label in metric_columns] + ["seconds", "error"]
    rows = []
    for rank, t in enumerate(ranked(trials), start=1):
        row = [rank if t["status"] == "ok" else "", t["trial"], t["status"]]
        row += [t["params"].get(name, "") for name in names]
        row += [t.get(part, {}).get(name, "") for part, name, _ in metric_columns]
        rows.append(row + [t.get("seconds", ""), t.get("error") or ""])
    return header, rows


def render_csv(trials, parameters) -> str:
    header, rows = table_rows(trials, parameters)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[json.dumps(v) if isinstance(v, (list, dict)) else v for v in row] for row in rows])
    return buffer.getvalue()


def render_markdown(trials, parameters, identity: dict, decimals: int = 4) -> str:
    header, rows = table_rows(trials, parameters)
    ok = [t for t in trials if t["status"] == "ok"]
    metric = ok[0]["valid_metric"] if ok else "the validation metric"
    lines = [f"{MARKDOWN_TITLE}: {identity['model']} on {identity['dataset']}", "",
             f"{identity['tool']} / {identity['algo']}, search seed {identity['search_seed']}; "
             f"{len(trials)} trials ({len(ok)} finished, {len(trials) - len(ok)} failed), sorted by validation "
             f"{metric}. `valid` columns: the best validation epoch (used for selection); `test` columns: the "
             "test split of the same run, as RecBole reports it (not used for selection).", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---:" if h in ("rank", "trial") else "---"
                                                           for h in header) + "|"]
    first_metric = len(CSV_FIRST_COLUMNS) + len(parameters)
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            if isinstance(value, float) and first_metric <= index < len(row) - 2:
                cells.append(f"{value:.{decimals}f}")
            else:
                cells.append(_value_text(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(paths: dict[str, Path], trials: list[dict], parameters, identity: dict) -> None:
    """Rewrite ``OUT.json``, ``OUT.csv`` and ``OUT.md``, each atomically."""
    state = {"format": STATE_FORMAT, "version": STATE_VERSION, "search": identity, "trials": trials}
    texts = {"json": json.dumps(state, indent=1) + "\n", "csv": render_csv(trials, parameters),
             "md": render_markdown(trials, parameters, identity)}
    for kind, text in texts.items():
        with atomic_file(paths[kind], "w", replaces=REPLACES[kind], not_ours=NOT_OURS, encoding="utf-8",
                         newline="") as handle:
            handle.write(text)


def check_outputs(paths: dict[str, Path]) -> None:
    """Before the search: each output may be written (missing, or an earlier table of this command)."""
    from dataset_conversion.atomic import check_replaceable_file

    for kind, path in paths.items():
        check_replaceable_file(path, REPLACES[kind], NOT_OURS)


# ------------------------------------------------------------------------------------------- the search


@dataclass
class Search:
    """One search: what to run (model, dataset, fixed settings), the space, the tool and where results go."""

    model: str
    dataset: str
    parameters: list
    params_file: Path
    settings: list
    config_files: list | None
    tool: str
    algo: str
    max_evals: int | None
    early_stop: int | None
    search_seed: int
    threads: int
    concurrent: int
    output: str | os.PathLike
    valid_metric_bigger: bool = True

    def __post_init__(self):
        self.paths = output_paths(self.output)
        self.identity = search_identity(self.model, self.dataset, self.tool, self.algo, self.search_seed,
                                        self.parameters, self.settings, self.config_files)
        self.recorded: list[dict] = []
        self.trials: list[dict] = []
        self.ran = 0

    @property
    def evals(self) -> int:
        """How many trials to suggest: the whole grid for exhaustive (capped by max_evals), else max_evals."""
        if self.algo == "exhaustive":
            size = grid_size(self.parameters)
            return size if self.max_evals is None else min(size, self.max_evals)
        return 100 if self.max_evals is None else self.max_evals  # HyperTuning's default max_evals

    @property
    def stop_after(self) -> int:
        """Trials without progress before stopping (0: never); default RecBole's 10, none for a grid."""
        if self.early_stop is not None:
            return self.early_stop
        return 0 if self.algo == "exhaustive" else RECBOLE_EARLY_STOP

    def prepare(self) -> None:
        """Check the outputs, read an earlier run's trials; the first check of the settings (one-line errors)."""
        check_outputs(self.paths)
        self.recorded = read_state(self.paths["json"], self.identity)
        if self.tool == "ray" and self.algo == "bayes" and self.recorded:
            raise DataError(self.paths["json"], "holds trials of a Ray Tune bayes search, which cannot be resumed "
                                                "(Ray runs trials concurrently, so TPE's suggestions depend on the "
                                                "order results arrive); choose another --output_file or remove it")

    def record(self, record: dict) -> dict:
        """Add a trial's record (numbered in order) and rewrite the results files."""
        replayed = record.pop("replayed", False)
        self.ran += not replayed
        record = {"trial": len(self.trials) + 1, **record}
        self.trials.append(record)
        write_results(self.paths, self.trials, self.parameters, self.identity)
        print(trial_line(record, self.evals, replayed), flush=True)
        return record

    def run_or_replay(self, params: dict, index: int) -> dict:
        """The recorded result of trial ``index`` if the earlier run got that far with the same parameters,
        else a new run."""
        params = {k: plain_value(v) for k, v in params.items()}
        if index < len(self.recorded):
            old = self.recorded[index]
            if old["params"] == params:
                return {k: v for k, v in old.items() if k != "trial"} | {"replayed": True}
            raise DataError(self.paths["json"], f"trial {index + 1} was run with {old['params']}, the search now "
                                                f"suggests {params}; choose another --output_file or remove it")
        return run_trial(self.model, self.dataset, self.config_files, self.settings, params, self.threads)

    def run(self) -> list[dict]:
        """Run the search; returns the trials, ranked."""
        self.prepare()
        if self.tool == "ray":
            run_ray(self)
        else:
            run_hyperopt(self)
        if self.trials:
            write_results(self.paths, self.trials, self.parameters, self.identity)
        return ranked(self.trials)


def trial_line(record: dict, total: int, replayed: bool = False) -> str:
    """One line per trial for the console."""
    params = ", ".join(f"{k}={_value_text(v)}" for k, v in record["params"].items())
    if record["status"] == "ok":
        outcome = f"valid {record['valid_metric']} {record['valid_score']:.4f}"
    else:
        outcome = f"failed: {record.get('error')}"
    how = "recorded" if replayed else f"{record.get('seconds', 0):.1f} s"
    return f"trial {record['trial']}/{total} ({how}): {params} -> {outcome}"


def _early_stop_fn(count: int):
    """hyperopt's ``no_progress_loss`` (RecBole's early stop) over the finished trials only: a failed
    trial has no loss and neither counts nor resets the count."""
    if count <= 0:
        return None
    from hyperopt import STATUS_OK
    from hyperopt.early_stop import no_progress_loss

    inner = no_progress_loss(count)

    def stop(trials, *state):
        if trials.trials[-1]["result"].get("status") != STATUS_OK:
            return False, list(state)
        return inner(trials, *state)

    return stop


def run_hyperopt(search: Search) -> None:
    """RecBole's ``HyperTuning`` (its exhaustive search, hyperopt's random and TPE) over plug-in runs."""
    import numpy as np

    quiet_imports()
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin
    from recbole.trainer import HyperTuning

    class PluginHyperTuning(HyperTuning):
        """RecBole's ``HyperTuning`` whose trials are :meth:`Search.run_or_replay`; a failed trial is
        hyperopt's STATUS_FAIL, and ``run`` fixes the seed and keeps hyperopt's ``Trials`` here."""

        def trial(self, params):
            record = search.record(search.run_or_replay(params, len(search.trials)))
            if record["status"] != "ok":
                return {"status": STATUS_FAIL}
            score = record["valid_score"]
            self.params2result[self.params2str(params)] = record
            if self.best_score is None or (score > self.best_score if record["bigger"] else score < self.best_score):
                self.best_score, self.best_params = score, params
            return {"loss": -score if record["bigger"] else score, "status": STATUS_OK}

        def run(self):
            fmin(self.trial, self.space, algo=self.algo, max_evals=self.max_evals, trials=Trials(),
                 rstate=np.random.RandomState(search.search_seed), early_stop_fn=_early_stop_fn(search.stop_after),
                 show_progressbar=False, return_argmin=False)

    tuning = PluginHyperTuning(None, space=hyperopt_space(search.parameters), algo=search.algo,
                               max_evals=search.evals)
    tuning.max_evals = search.evals  # HyperTuning sets the whole grid for exhaustive; --max_evals may cap it
    tuning.run()


def ray_unavailable() -> str | None:
    """Why Ray Tune cannot run here, or None."""
    quiet_imports()
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as err:
        return f"Ray Tune cannot be imported ({one_line(err)})"
    try:
        import pyarrow  # noqa: F401  ray.tune 2.6 reads its experiment folder through pyarrow.fs
    except ImportError:
        return ("Ray Tune 2.6 needs pyarrow (ray[tune]'s extra) to read its results; it is not installed "
                "(pip install pyarrow==14.0.2)")
    return None


def _ray_trainable(config, search_state=None):
    """A Ray Tune function trainable: one plug-in trial (or its recorded result), reported as one result."""
    from ray.air import session

    search = search_state
    params = {name: config[name] for name in search.parameter_names}
    key = json.dumps({k: plain_value(v) for k, v in params.items()}, sort_keys=True)
    record = search.recorded.get(key)
    if record is None:
        record = run_trial(search.model, search.dataset, search.config_files, search.settings, params,
                           search.threads)
    else:
        record = {**record, "replayed": True}
    score = record.get("valid_score")
    session.report({"valid_score": score if record["status"] == "ok" else float("nan"),
                    "record": json.dumps(record)})


@dataclass
class _RayTrialState:
    """What a Ray worker needs of the search (plain data, sent with the trainable)."""

    model: str
    dataset: str
    config_files: list | None
    settings: list
    threads: int
    parameter_names: list
    recorded: dict


def run_ray(search: Search) -> None:
    """Ray Tune on a local Ray instance (or ``RAY_ADDRESS``): grid, random (seeded) or TPE suggestions,
    ``concurrent`` trials at once, ``threads`` CPUs each."""
    reason = ray_unavailable()
    if reason is not None:
        raise DataError("--tool ray", reason)
    import ray
    from ray import tune
    from ray.tune import Callback
    from ray.tune.logger import CSVLoggerCallback
    from ray.tune.search import BasicVariantGenerator

    names = [p.name for p in search.parameters]
    recorded = {json.dumps(t["params"], sort_keys=True): {k: v for k, v in t.items() if k != "trial"}
                for t in search.recorded}
    state = _RayTrialState(search.model, search.dataset, search.config_files, search.settings, search.threads,
                           names, recorded)
    if search.algo == "bayes":
        from ray.tune.search import ConcurrencyLimiter
        from ray.tune.search.hyperopt import HyperOptSearch

        search_alg = ConcurrencyLimiter(HyperOptSearch(random_state_seed=search.search_seed),
                                        max_concurrent=search.concurrent)
        samples = search.evals
    else:
        search_alg = BasicVariantGenerator(random_state=search.search_seed, max_concurrent=search.concurrent)
        samples = 1 if search.algo == "exhaustive" else search.evals

    class RecordTrials(Callback):
        """Writes each finished trial into the results files as it arrives (on the driver)."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "record" in result:
                search.record(json.loads(result["record"]))

        def on_trial_error(self, iteration, trials, trial, **info):
            params = {name: plain_value(trial.config.get(name)) for name in names}
            search.record({"params": params, "status": "failed", "error": "the Ray trial died (see its log in "
                                                                          f"{trial.local_path})"})

    ray_log = search.paths["json"].with_name(f"{search.paths['json'].stem}.ray")
    # the results files are this command's record: Tune keeps only its CSV log (what it reads back at the
    # end), no JSON or TensorBoard logger (tensorboardX is not installed), no progress box
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=search.threads * search.concurrent, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    # tune.run installs its own SIGINT handler and leaves it in place; the caller's come back afterwards
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tune.run(tune.with_parameters(_ray_trainable, search_state=state), config=ray_space(search.parameters,
                 search.algo), num_samples=samples, search_alg=search_alg, metric="valid_score",
                 mode="max" if search.valid_metric_bigger else "min", resources_per_trial={"cpu": search.threads},
                 storage_path=os.fspath(ray_log.resolve()), chdir_to_trial_dir=False, callbacks=[RecordTrials(), CSVLoggerCallback()],
                 verbose=0, raise_on_failed_trial=False, name=search.paths["json"].stem)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if started_here:
            ray.shutdown()


# ------------------------------------------------------------------------------------------ the command

COMMAND_DOC = """Hyper-parameter search, RecBole-style: ``python run_hyper.py --model=PoseRec --dataset=pose-obe
--params_file=properties/hyper/PoseRec.hyper [--algo exhaustive|random|bayes] [--max_evals N] [--tool hyperopt|ray]
[--output_file OUT] [--key=value ...]``.

Each trial is a full plug-in run (any plug-in or RecBole model) selected on the validation metric; every
``--key=value`` is a fixed setting of every trial (e.g. ``--epochs=5``). Results: OUT.csv and OUT.md (every trial
sorted by the validation metric, with the test metrics RecBole reports), OUT.json (for resuming): a re-run with the
same OUT runs only the missing trials. See recbole_poserec/hyper.py for the parameters file format.
"""


def default_threads(concurrent: int) -> int:
    """The cores of this process shared among the concurrent trials (at least one thread each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // concurrent)


def build_parser():
    import argparse

    from dataset_conversion.entrypoint import ArgumentParser, non_negative_int, path_argument, positive_int

    parser = ArgumentParser(prog="run_hyper.py", description=COMMAND_DOC, allow_abbrev=False,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "-m", type=str, default="PoseRec", help="model name (plug-in or RecBole)")
    parser.add_argument("--dataset", "-d", type=str, default="pose-obe", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated fixed config files")
    parser.add_argument("--params_file", type=path_argument, required=True, help="the parameters to search")
    parser.add_argument("--output_file", type=path_argument, default=None,
                        help="results base name: OUT.csv, OUT.md, OUT.json (default hyper/<model>-<dataset>-<algo>)")
    parser.add_argument("--tool", type=str.lower, choices=TOOLS, default="hyperopt",
                        help="hyperopt: RecBole's HyperTuning; ray: Ray Tune on a local instance or RAY_ADDRESS")
    parser.add_argument("--algo", choices=ALGORITHMS, default="bayes",
                        help="exhaustive: every combination of choice parameters; random; bayes: TPE (default)")
    parser.add_argument("--max_evals", type=positive_int, default=None,
                        help="trials to run (default: the whole grid for exhaustive, else 100 as HyperTuning's)")
    parser.add_argument("--early_stop", type=non_negative_int, default=None,
                        help="stop after N trials without a better validation score, 0 never "
                             f"(default {RECBOLE_EARLY_STOP} as RecBole's run_hyper; never for exhaustive)")
    parser.add_argument("--search_seed", type=non_negative_int, default=2022,
                        help="seed of the suggestions (the trials' own seed is the setting 'seed')")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch threads (and Ray CPUs) per trial (default: the cores / --concurrent)")
    parser.add_argument("--concurrent", type=positive_int, default=1, help="trials at once (--tool ray only)")
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (None: ``sys.argv[1:]``), check everything, run the search, print the best trial."""
    import re
    import sys

    parser = build_parser()
    args, settings = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    for arg in settings:
        if not re.fullmatch(r"--[^=\s]+=.*", arg, re.DOTALL):
            parser.error(f"unrecognized argument {arg!r}: fixed settings are given as --key=value")
    if args.concurrent > 1 and args.tool != "ray":
        parser.error("argument --concurrent: more than one trial at once needs --tool ray")
    if args.tool == "ray":
        reason = ray_unavailable()
        if reason is not None:
            raise DataError("--tool ray", reason)
    parameters = read_params_file(args.params_file)
    from recbole_poserec.quick_start import prepare_config  # RecBole and torch: after the cheap checks

    config_files = args.config_files.split() if args.config_files else None
    config = prepare_config(args.model, args.dataset, config_files, None, settings)  # also makes the default data
    check_parameters(parameters, args.params_file, config.final_config_dict, settings, args.algo, args.model,
                     args.dataset)
    output = args.output_file or Path("hyper") / f"{args.model}-{args.dataset}-{args.algo}"
    search = Search(model=args.model, dataset=args.dataset, parameters=parameters, params_file=args.params_file,
                    settings=settings, config_files=config_files, tool=args.tool, algo=args.algo,
                    max_evals=args.max_evals, early_stop=args.early_stop, search_seed=args.search_seed,
                    threads=args.threads or default_threads(args.concurrent), concurrent=args.concurrent,
                    output=output, valid_metric_bigger=bool(config["valid_metric_bigger"]))
    trials = search.run()
    finished = [t for t in trials if t["status"] == "ok"]
    print(f"{len(search.trials)} trials ({search.ran} run now, {len(search.trials) - search.ran} recorded), "
          f"{len(finished)} finished; table: {search.paths['md']} and {search.paths['csv']}")
    if finished:
        best = finished[0]
        print(f"best: trial {best['trial']}: {best['params']} -> valid {best['valid_metric']} "
              f"{best['valid_score']:.4f}")
    return 0
