"""The README's Python examples run as written, one block after another (as a reader would)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run_in_order():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["trace"].output.shape == (256, 1)


def test_readme_opens_with_the_two_set_up_commands():
    commands = re.search(r"```bash\n(.*?)```", README.read_text(), flags=re.S).group(1).split("\n")
    assert commands[0].endswith("actlab reproduce --quick --out report")
    assert commands[1].endswith(".venv/bin/python -m pytest -q -n auto")
