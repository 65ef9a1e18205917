"""Commands the tests run as child processes, several at once: each imports TensorFlow for seconds, and two
cores do two of those in the time of one."""
import subprocess
from typing import List, Sequence


def run_together(commands: Sequence[Sequence[str]], timeout: float = 300,
                 **popen) -> List[subprocess.CompletedProcess]:
    """Starts every command, then waits for all; their output as text, in the order given."""
    children = [subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 **popen) for command in commands]
    results = []
    for command, child in zip(commands, children):
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in children:
                other.kill()
            raise
        results.append(subprocess.CompletedProcess(list(command), child.returncode, stdout, stderr))
    return results
