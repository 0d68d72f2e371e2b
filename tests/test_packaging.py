"""The installable package: what the wheel carries, its entry points, and the CI that checks a built wheel."""

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import recbole_poserec.__main__ as entry
from recbole_poserec.property_files import PROPERTIES_DIR

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
README_TEST_COMMAND = ".venv/bin/python -m pytest -q tests"


def test_the_wheel_lists_every_package_of_the_plugin_and_the_converter():
    setuptools = PYPROJECT["tool"]["setuptools"]
    on_disk = {".".join(init.parent.relative_to(REPO).parts)
               for top in ("recbole_poserec", "dataset_conversion") for init in (REPO / top).rglob("__init__.py")}
    assert on_disk <= set(setuptools["packages"]), on_disk - set(setuptools["packages"])
    assert setuptools["package-dir"] == {"recbole_poserec.properties": "properties"}
    shipped = setuptools["package-data"]["recbole_poserec.properties"]
    yaml_files = {str(path.relative_to(REPO / "properties")) for path in (REPO / "properties").rglob("*.yaml")}
    assert all(any(Path(name).match(pattern) for pattern in shipped) for name in yaml_files)
    assert Path(PROPERTIES_DIR, "model", "PoseRec.yaml").is_file()


def test_console_script_python_m_and_run_recbole_are_one_command():
    assert PYPROJECT["project"]["scripts"]["recbole-poserec"].split("#")[0].strip() == \
        "recbole_poserec.__main__:console_main"
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    if "recbole-poserec" in installed:  # an editable install made before the script existed lacks it
        assert installed["recbole-poserec"] == "recbole_poserec.__main__:console_main"
    root_entry = (REPO / "run_recbole.py").read_text(encoding="utf-8")
    assert "from recbole_poserec.__main__ import console_main, main" in root_entry
    done = subprocess.run([sys.executable, "-m", "recbole_poserec", "--help"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0 and "recbole-poserec" in done.stdout and "--config_files" in done.stdout
    assert entry.main.__module__ == "recbole_poserec.__main__"


def test_ci_runs_the_readme_tests_then_checks_the_wheel():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert README_TEST_COMMAND in readme and README_TEST_COMMAND in ci
    assert ci.index("bash scripts/check_wheel.sh") > ci.index(README_TEST_COMMAND)
    script = (REPO / "scripts" / "check_wheel.sh").read_text(encoding="utf-8")
    for step in ("pip wheel --no-deps", "-m venv", "recbole-poserec\"", "-m recbole_poserec", "--epochs=1",
                 "synth --raw raw --videos 12 --items 60", "test result"):
        assert step in script, step
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "check_wheel.sh")]).returncode == 0
