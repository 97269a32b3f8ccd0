"""The wheel and sdist built from this repository, and the README's
quickstart run from the wheel installed in a fresh virtual environment.

Slow (3 to 4 minutes on a busy 2-core machine, most of it installing
torch and importing it fresh), so these tests carry the `wheel` marker and
`scripts/test.sh` runs them once, in a pytest process of their own. The build sees only the files git tracks or would track (a
copy, so stale build state in the work tree cannot leak into the sdist).
Packages install with pip's own configuration, constrained to the versions
already installed here, so pip takes files it already has rather than
whatever is newest.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).parents[2]
PACKAGE = "keras_constrained"
DIST_NAME = "keras-constrained"
# The CPU build (on these machines a file on disk); a bare `torch` pulls CUDA.
TORCH = "torch==2.13.0"
BACKEND_EXTRAS = {"jax": "jax", "tensorflow": "tensorflow-cpu",
                  "torch": "torch"}
TAIL_CHARS = 4000


def _run(args, timeout, **kwargs):
    """Runs `args`; fails the test with the output's tail if it fails."""
    result = subprocess.run([str(a) for a in args], capture_output=True,
                            text=True, timeout=timeout, **kwargs)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-TAIL_CHARS:]
        pytest.fail(f"exit {result.returncode}: {' '.join(map(str, args))}"
                    f"\n{output}")
    return result.stdout


def _clean_env(**extra):
    """This environment without what would point Python at another tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return dict(env, **extra)


def _repo_files():
    """The files git tracks or would track (not ignored), relative paths."""
    listing = _run(["git", "-C", ROOT, "ls-files", "-z", "--cached",
                    "--others", "--exclude-standard"], timeout=60)
    return sorted(p for p in listing.split("\0")
                  if p and (ROOT / p).is_file())


def _package_modules():
    return {p for p in _repo_files()
            if p.startswith(PACKAGE + "/") and p.endswith(".py")}


@pytest.fixture(autouse=True)
def fresh_session():
    """Overrides conftest's Keras reset: Keras runs only in subprocesses."""


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """`python -m build` of a copy of the repository: sdist, then the wheel
    built from that sdist."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    for name in _repo_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = work / "dist"
    _run([sys.executable, "-m", "build", "--outdir", out, source],
         timeout=600, env=_clean_env())
    sdists = list(out.glob("*.tar.gz"))
    wheels = list(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(out.iterdir())
    return sdists[0], wheels[0]


def _wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist()
                    if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode()


def test_twine_check_passes(dist):
    _run([sys.executable, "-m", "twine", "check", "--strict", *dist],
         timeout=120)


def test_sdist_holds_license_readme_and_every_module(dist):
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames()
                 if "/" in name}
        top = archive.getnames()[0].split("/")[0]
        license_text = archive.extractfile(f"{top}/LICENSE").read()
    assert {"LICENSE", "README.md", "pyproject.toml"} <= names
    assert license_text == (ROOT / "LICENSE").read_bytes()
    assert {n for n in names if n.startswith(PACKAGE + "/")
            and n.endswith(".py")} == _package_modules()


def test_wheel_record_holds_license_and_exactly_the_package(dist):
    _, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        record_name = next(n for n in archive.namelist()
                           if n.endswith(".dist-info/RECORD"))
        record = [line.split(",")[0] for line in
                  archive.read(record_name).decode().splitlines() if line]
        licenses = [n for n in record
                    if re.fullmatch(r"[^/]+\.dist-info/licenses/LICENSE", n)]
        assert len(licenses) == 1, record
        assert archive.read(licenses[0]) == (ROOT / "LICENSE").read_bytes()
    assert "License-Expression: Apache-2.0" in _wheel_metadata(wheel)
    outside = [n for n in record
               if not n.startswith((PACKAGE + "/", licenses[0].split("/")[0]))]
    assert outside == []
    assert {n for n in record if n.endswith(".py")} == _package_modules()


def test_backend_extras_are_ranges_that_admit_the_installed_backends(dist):
    """The bug this guards: `[torch]` pinned one torch release, so any other
    installed torch made pip fail with ResolutionImpossible."""
    _, wheel = dist
    requirements = [Requirement(line.split(":", 1)[1].strip())
                    for line in _wheel_metadata(wheel).splitlines()
                    if line.startswith("Requires-Dist:")]
    pinned = [str(r) for r in requirements
              if any(s.operator in ("==", "===") for s in r.specifier)]
    assert pinned == []
    for extra, name in BACKEND_EXTRAS.items():
        matching = [r for r in requirements
                    if canonicalize_name(r.name) == name and r.marker
                    and r.marker.evaluate({"extra": extra})]
        assert len(matching) == 1, (extra, [str(r) for r in requirements])
        installed = importlib.metadata.version(name)
        assert matching[0].specifier.contains(installed, prereleases=True), (
            f"[{extra}] requires {matching[0]}, installed is {installed}")


def _constraints(path):
    """`name==version` for everything installed here but this package."""
    names = {d.metadata["Name"]: d.version
             for d in importlib.metadata.distributions()}
    lines = sorted(f"{name}=={version}" for name, version in names.items()
                   if name and canonicalize_name(name) != DIST_NAME)
    path.write_text("\n".join(lines) + "\n")
    return path


def _readme_quickstart():
    """The ```python block under the README's "## Quickstart" heading."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", readme,
                        re.S | re.M)
    assert section, 'README.md has no "## Quickstart" heading'
    block = re.search(r"^```python\n(.*?)^```", section.group(1),
                      re.S | re.M)
    assert block, 'README.md has no ```python block under "## Quickstart"'
    return block.group(1)


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with torch, then the wheel with its `[torch]` extra.

    This environment's pip installs into it (`--python`), which saves
    installing pip there; `--no-compile` skips byte-compiling all of torch,
    most of the install's CPU time.
    """
    work = tmp_path_factory.mktemp("venv")
    path = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", path], timeout=300,
         env=_clean_env())
    python = path / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q",
           "--no-compile", "-c", _constraints(work / "constraints.txt")]
    _run([*pip, TORCH], timeout=600, env=_clean_env())
    _run([*pip, f"{dist[1]}[torch]"], timeout=600, env=_clean_env())
    return python


def test_readme_quickstart_runs_from_the_installed_wheel(venv, tmp_path):
    """Runs in smoke mode from a directory outside the repository, so only
    the installed wheel can be imported."""
    script = tmp_path / "quickstart.py"
    script.write_text(_readme_quickstart())
    # Runs the quickstart as a script, then says where the package came from.
    runner = ("import runpy, sys; runpy.run_path(sys.argv[1], "
              "run_name='__main__'); "
              f"print(sys.modules[{PACKAGE!r}].__file__)")
    output = _run([venv, "-c", runner, script], timeout=600, cwd=tmp_path,
                  env=_clean_env(KERAS_BACKEND="torch", KERAS_MAX_EPOCHS="1",
                                 KERAS_MAX_STEPS_PER_EPOCH="2"))
    site_packages = _run([venv, "-c", "import sysconfig; "
                          "print(sysconfig.get_paths()['purelib'])"],
                         timeout=60).strip()
    imported = Path(output.strip().splitlines()[-1]).resolve()
    assert imported == Path(site_packages).resolve() / PACKAGE / "__init__.py"
