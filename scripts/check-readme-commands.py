"""Run README.md's main command exactly as written, the way a new user would, in a fresh copy of the repo.

    python3 scripts/check-readme-commands.py

`.ci/run` calls it. It reads the two commands under "The two commands": the second must be the
one `.ci/run` is (so it runs by being CI); the first, the main job, is run as written with bash in
a copy of the tracked files (its own `.venv`, the user's package index and pip cache). It must
print the analytics and the collector's REST stats and then say it keeps the collector running;
then SIGTERM stops it, and no process it started may be left behind. Exits non-zero, saying why,
otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900  # a fresh venv installs every extra (from the pip cache when there is one)


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def copy_of_repo(into: Path) -> Path:
    """The tracked files as a clone has them (no .venv, no caches, no build output)."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source, target = REPO / os.fsdecode(name), into / os.fsdecode(name)
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    return into


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc; Linux, as CI)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def main() -> int:
    commands = readme_commands()
    if len(commands) != 2 or commands[1] != "bash .ci/run":
        print(f"README: expected the main command and `bash .ci/run` under 'The two commands', got {commands}")
        return 1
    main_command = commands[0]
    with tempfile.TemporaryDirectory(prefix="readme-check-") as tmp:
        repo = copy_of_repo(Path(tmp) / "agentops-otel")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTOPS_", "OTEL_", "OPENAI_"))}
        env["AGENTOPS_COLLECTOR_DATA_DIR"] = str(Path(tmp) / "data")  # not the CI user's ~/.agentops-otel
        print(f"running the README's main command in a fresh copy: {main_command}", flush=True)
        user = subprocess.Popen(
            ["bash", "-c", main_command],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output: list[str] = []
        deadline = time.monotonic() + TIMEOUT_S
        try:
            for line in user.stdout:
                output.append(line)
                if "press Ctrl-C to stop it" in line or time.monotonic() > deadline:
                    break
            shown = "".join(output)
            promised = ("LLM calls", "REST stats", "dashboard", "The collector keeps running")
            missing = [text for text in promised if text not in shown]
            if missing or user.poll() is not None:
                print(shown[-6000:])
                print(f"the main command did not get to the running collector (missing {missing})")
                return 1
            started = descendants(user.pid) | {user.pid}  # bash may exec the last command of the line itself
            quickstart = [pid for pid in started if b"examples/quickstart.py" in cmdline(pid)]
            if len(quickstart) != 1:
                print(f"expected one quickstart process under the command, found {quickstart}")
                return 1
            os.kill(quickstart[0], signal.SIGTERM)  # as `kill PID` would: the user's program, not its collector
            user.wait(timeout=120)
            end = time.monotonic() + 60
            while time.monotonic() < end and any(alive(pid) for pid in started):
                time.sleep(0.2)
            left = [pid for pid in started if alive(pid)]
            if left:
                print(f"processes left behind after SIGTERM: {left}")
                return 1
        finally:
            if user.poll() is None:
                os.killpg(user.pid, signal.SIGKILL)
                user.wait()
            user.stdout.close()
    print("README main command: ran as written, printed what it promises, and stopped cleanly on SIGTERM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
