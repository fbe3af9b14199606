"""What PyPI would show: the wheels and sdists built from the working tree carry the licence,
the classifiers, the project URLs and a README with a real example, and pass
``twine check --strict``.

The build (``uv build --all-packages``) and twine (``uv run --isolated --no-project --with
twine``) never touch the project's environment. Skipped only when the registry cannot be
reached to install the build backend or twine.
"""

from __future__ import annotations

import email.policy
import re
import subprocess
import zipfile
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.vendor_sdks import skip_if_unreachable, uv_command

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/jobrelay/jobrelay"

# distribution name -> (its directory, the module its example imports)
DISTRIBUTIONS = {
    "jobrelay": ("core", "jobrelay"),
    "jobrelay_emulators": ("emulators", "jobrelay_emulators"),
    "airflow_provider_jobrelay": ("airflow_provider", "airflow_jobrelay"),
    "prefect_jobrelay": ("prefect_integration", "prefect_jobrelay"),
    "dagster_jobrelay": ("dagster_integration", "dagster_jobrelay"),
}
# the distributions built on the core, each pinning a compatible one
ADAPTERS = (
    "jobrelay_emulators",
    "airflow_provider_jobrelay",
    "prefect_jobrelay",
    "dagster_jobrelay",
)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = uv_command()
    done = subprocess.run(
        [*uv, "build", "--all-packages", "--out-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        skip_if_unreachable("the build backend (hatchling)", done.stderr)
    return out


def wheel_of(dist_dir: Path, name: str) -> Path:
    (wheel,) = dist_dir.glob(f"{name}-*.whl")
    return wheel


def metadata_of(wheel: Path) -> tuple[Message, list[str]]:
    """The wheel's METADATA and the names of its files."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (path,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        raw = archive.read(path)
    return BytesParser(policy=email.policy.compat32).parsebytes(raw), names


def test_every_distribution_is_built(dist_dir: Path) -> None:
    for name in DISTRIBUTIONS:
        assert len(list(dist_dir.glob(f"{name}-*.whl"))) == 1, name
        assert len(list(dist_dir.glob(f"{name}-*.tar.gz"))) == 1, name


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_wheel_carries_the_apache_licence(dist_dir: Path, name: str) -> None:
    wheel = wheel_of(dist_dir, name)
    metadata, names = metadata_of(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(licence).decode()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a stub
    assert text == (ROOT / "LICENSE").read_text()


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_sdist_carries_licence_and_readme(dist_dir: Path, name: str) -> None:
    import tarfile

    (sdist,) = dist_dir.glob(f"{name}-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {Path(m).name for m in archive.getnames() if m.count("/") == 1}
    assert {"LICENSE", "README.md", "pyproject.toml"} <= members


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_wheel_metadata_is_a_package_page(dist_dir: Path, name: str) -> None:
    metadata, _ = metadata_of(wheel_of(dist_dir, name))
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "Typing :: Typed" in classifiers
    if name == "airflow_provider_jobrelay":
        assert "Framework :: Apache Airflow :: Provider" in classifiers
    assert metadata["Author"] or metadata["Author-email"]
    urls = dict(
        (label.strip(), url.strip())
        for label, url in (u.split(",", 1) for u in metadata.get_all("Project-URL") or [])
    )
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(urls)
    assert all(url.startswith(REPOSITORY) for url in urls.values()), urls
    assert metadata["Description-Content-Type"] == "text/markdown"


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_readme_has_a_real_example_and_a_link(dist_dir: Path, name: str) -> None:
    metadata, _ = metadata_of(wheel_of(dist_dir, name))
    body = metadata.get_payload(decode=True)
    assert isinstance(body, bytes)
    description = body.decode()
    directory, module = DISTRIBUTIONS[name]
    assert description.strip() == (ROOT / directory / "README.md").read_text().strip()
    blocks = PYTHON_BLOCK.findall(description)
    assert blocks, f"{name}: no python example in its README"
    # The first example is a whole program that uses the package: it parses and imports it.
    compile(blocks[0], f"{name} README", "exec")
    assert re.search(rf"^(from|import) {module}\b", blocks[0], re.MULTILINE), blocks[0]
    assert "pip install" in description
    # Every pointer to more is a link that works off the repository (no "../core").
    assert f"<{REPOSITORY}>" in description or f"({REPOSITORY}" in description
    assert "](../" not in description
    assert not re.search(r"See the repository README\.?\s*$", description)


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_pin_a_compatible_core(dist_dir: Path, name: str) -> None:
    metadata, _ = metadata_of(wheel_of(dist_dir, name))
    requires = metadata.get_all("Requires-Dist") or []
    (core,) = [r for r in requires if re.match(r"jobrelay\b", r)]
    bounds = set(core.removeprefix("jobrelay").replace(" ", "").split(","))
    assert bounds == {">=0.1", "<0.2"}, core
    core_metadata, _ = metadata_of(wheel_of(dist_dir, "jobrelay"))
    assert core_metadata["Version"].startswith("0.1."), "the pin no longer admits the core"


def test_the_core_wheel_ships_no_emulator_code(dist_dir: Path) -> None:
    """The emulators and the contract kit are their own distribution; the core's
    ``emulators`` extra is the way to them."""
    metadata, names = metadata_of(wheel_of(dist_dir, "jobrelay"))
    modules = [n for n in names if n.endswith(".py")]
    assert any(n.startswith("jobrelay/platforms/") for n in modules)  # the listing is real
    assert not [n for n in modules if n.startswith("jobrelay/testing/")]
    with zipfile.ZipFile(wheel_of(dist_dir, "jobrelay")) as archive:
        emulators = [
            n for n in modules if re.search(rb"^class \w*Emulator\b", archive.read(n), re.M)
        ]
    assert not emulators, "an emulator class is defined in the core wheel"
    assert not [n for n in names if n.startswith("jobrelay_emulators/")]
    requires = metadata.get_all("Requires-Dist") or []
    assert any(
        r.startswith("jobrelay-emulators") and "extra == 'emulators'" in r.replace('"', "'")
        for r in requires
    ), requires
    _, emulator_names = metadata_of(wheel_of(dist_dir, "jobrelay_emulators"))
    assert "jobrelay_emulators/fused/emulator.py" in emulator_names
    # the platform contract kit ships for third-party platform authors
    assert "jobrelay_emulators/contract/suite.py" in emulator_names


def test_classifiers_are_known_to_pypi(dist_dir: Path) -> None:
    """PyPI refuses an upload with an unknown classifier; trove-classifiers is its list."""
    classifiers = sorted(
        {
            c
            for name in DISTRIBUTIONS
            for c in metadata_of(wheel_of(dist_dir, name))[0].get_all("Classifier") or []
        }
    )
    uv = uv_command()
    script = (
        "import sys, trove_classifiers as t;"
        "print([c for c in sys.argv[1:] if c not in t.classifiers])"
    )
    done = subprocess.run(
        [
            *uv,
            "run",
            "--isolated",
            "--no-project",
            "--with",
            "trove-classifiers",
            "python",
            "-c",
            script,
            *classifiers,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        skip_if_unreachable("trove-classifiers", done.stderr)
    assert done.stdout.strip() == "[]"


def test_twine_check_strict(dist_dir: Path) -> None:
    dists = sorted(str(p) for p in [*dist_dir.glob("*.whl"), *dist_dir.glob("*.tar.gz")])
    assert len(dists) == 2 * len(DISTRIBUTIONS)
    uv = uv_command()
    done = subprocess.run(
        [
            *uv,
            "run",
            "--isolated",
            "--no-project",
            "--with",
            "twine",
            "twine",
            "check",
            "--strict",
            *dists,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 and "PASSED" not in done.stdout:
        skip_if_unreachable("twine", done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == len(dists), done.stdout
