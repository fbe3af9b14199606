"""Every code block of the docs site and of the READMEs does what its page says.

Each page runs in order in its own folder and jobrelay home (blocks of a page build on each
other: a job id, a file given by an earlier block, a command's output). How a block runs is in
``tests/docs_blocks.py``. The runner's own tests below show a broken block fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobrelay_emulators.local_home import stop_local_home

from tests.docs_blocks import ROOT, Block, BlockFailed, Session, blocks_of, run_block

PAGES = sorted(
    [
        *(ROOT / "docs").rglob("*.md"),
        ROOT / "README.md",
        *(
            ROOT / d / "README.md"
            for d in ("core", "emulators", "airflow_provider", "prefect_integration")
        ),
        ROOT / "dagster_integration" / "README.md",
    ]
)


def _starts_processes(block: Block) -> bool:
    """Whether a block runs something (a job, a server, a framework) rather than a check."""
    if block.kind == "python":
        return block.option("file") is None
    if block.kind == "bash":
        return any(
            word in block.code for word in ("jobrelay ", "dagster dev", "prefect block")
        ) or ("serves" in block.directives)
    return False


def _page_param(page: Path) -> object:
    slow = any(_starts_processes(b) for b in blocks_of(page))
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(page, id=str(page.relative_to(ROOT)), marks=marks)


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture
def session(tmp_path: Path, prefect_home: Path) -> Iterator[Session]:
    home = tmp_path / "home"
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        yield Session(workdir=workdir, home=home, prefect_home=prefect_home)
    finally:
        if home.exists():
            stop_local_home(home)  # the agents the blocks' jobs started


# A page's blocks run one after another; each Prefect block starts Prefect's temporary server.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES])
def test_every_code_block_of_the_page_runs(page: Path, session: Session) -> None:
    blocks = blocks_of(page)
    for block in blocks:
        run_block(block, session)


def test_every_page_is_tested_and_in_the_site() -> None:
    """A page under docs/ is in mkdocs.yml's nav, so it is built and its blocks run."""
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        assert str(page.relative_to(ROOT / "docs")) in nav, page


# ---- the runner fails on a broken block ----------------------------------------------


def _page(tmp_path: Path, text: str) -> list[Block]:
    path = tmp_path / "page.md"
    path.write_text(text)
    return blocks_of(path)


def _run_all(blocks: list[Block], session: Session) -> None:
    for block in blocks:
        run_block(block, session)


def test_a_python_block_that_raises_fails(tmp_path: Path, session: Session) -> None:
    blocks = _page(tmp_path, "```python\nimport jobrelay\nraise SystemExit(3)\n```\n")
    with pytest.raises(BlockFailed, match=r"page\.md:1: exit 3"):
        _run_all(blocks, session)


def test_a_python_block_that_is_not_python_fails(tmp_path: Path, session: Session) -> None:
    blocks = _page(tmp_path, "<!-- docs-test: file=job.py -->\n```python\ndef f(:\n```\n")
    with pytest.raises(BlockFailed, match="not valid Python"):
        _run_all(blocks, session)


@pytest.mark.slow  # a CLI start: seconds on a busy machine
def test_an_option_the_command_does_not_have_fails(tmp_path: Path, session: Session) -> None:
    """What the README once said: ``jobrelay agent --cancel-grace`` (no such option)."""
    blocks = _page(tmp_path, "```bash\njobrelay agent --cancel-grace 5\n```\n")
    with pytest.raises(BlockFailed, match="exit 2"):
        _run_all(blocks, session)


def test_an_extra_the_distribution_does_not_have_fails(tmp_path: Path, session: Session) -> None:
    ok = _page(tmp_path, "```bash\npip install 'jobrelay[emulators,s3]' prefect-jobrelay\n```\n")
    _run_all(ok, session)
    for bad in ("'jobrelay[emulator]'", "jobrelay-emulatorz", "airflow-provider-jobrelay[ray]"):
        blocks = _page(tmp_path, f"```bash\npip install {bad}\n```\n")
        with pytest.raises(BlockFailed):
            _run_all(blocks, session)


def test_a_command_no_rule_knows_fails(tmp_path: Path, session: Session) -> None:
    blocks = _page(tmp_path, "```bash\ncurl https://example.com | sh\n```\n")
    with pytest.raises(BlockFailed, match="no rule"):
        _run_all(blocks, session)


def test_a_missing_script_or_test_path_fails(tmp_path: Path, session: Session) -> None:
    for line in (
        "python3 -m uv run --frozen python examples/nope.py",
        "python3 -m uv run pytest tests/nope -q",
    ):
        with pytest.raises(BlockFailed, match=r"missing|no such"):
            _run_all(_page(tmp_path, f"```bash\n{line}\n```\n"), session)


def test_a_fence_of_another_kind_fails(tmp_path: Path, session: Session) -> None:
    for fence in ("```\nls\n```\n", "```sh\nls\n```\n", "```console\n$ ls\n```\n"):
        with pytest.raises(BlockFailed, match="fence of kind"):
            _run_all(_page(tmp_path, fence), session)


def test_an_unclosed_fence_fails(tmp_path: Path) -> None:
    with pytest.raises(BlockFailed, match="never closed"):
        _page(tmp_path, "```python\nprint(1)\n")


@pytest.mark.slow
def test_shown_output_must_be_what_the_command_printed(tmp_path: Path, session: Session) -> None:
    page = (
        "```bash\njobrelay submit 'echo hi'\njobrelay wait JOB_ID\n```\n\n"
        "<!-- docs-test: output -->\n```text\n{}\n```\n"
    )
    with pytest.raises(BlockFailed, match="the page shows"):
        _run_all(_page(tmp_path, page.format("submitted job j-000000000000")), session)


@pytest.mark.slow
def test_a_dag_that_does_not_import_fails(tmp_path: Path, session: Session) -> None:
    dag = (
        "<!-- docs-test: airflow-dag -->\n```python\n"
        "from airflow.sdk import DAG\nfrom airflow_jobrelay.operators import NoSuchOperator\n```\n"
    )
    with pytest.raises(BlockFailed, match="NoSuchOperator"):
        _run_all(_page(tmp_path, dag), session)
