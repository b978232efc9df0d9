"""Shell completion, as docs/cli.rst documents it (click's own)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ANONLINK = str(Path(sys.executable).with_name("anonlink"))


def complete(words: str, cword: int) -> str:
    env = {**os.environ, "_ANONLINK_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return subprocess.run([ANONLINK], env=env, capture_output=True, text=True, check=True).stdout


def test_bash_source_defines_the_completion_function() -> None:
    env = {**os.environ, "_ANONLINK_COMPLETE": "bash_source"}
    script = subprocess.run([ANONLINK], env=env, capture_output=True, text=True, check=True).stdout
    assert "_anonlink_completion()" in script
    assert "complete -o nosort -F _anonlink_completion anonlink" in script
    if shutil.which("bash"):
        checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_commands_and_options_complete() -> None:
    assert complete("anonlink ha", 1) == "plain,hash\n"
    assert "plain,find-similarity" in complete("anonlink fi", 1)
    assert "plain,--quiet" in complete("anonlink hash --qu", 2)
