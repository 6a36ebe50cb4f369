"""Starting, watching and stopping the processes a benchmark runs."""
import re
import signal
import subprocess
import threading
import time


class BenchError(Exception):
    """Something that must fail the run: a crash, a bad exit status, a missing readiness line."""


def run(argv, timeout, what=None):
    """Runs argv to completion; its stdout. A non-zero exit status is a BenchError."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{what or argv[0]} did not finish within {timeout}s") from e
    if p.returncode != 0:
        raise BenchError(f"{what or argv[0]} exited with {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


class Background:
    """
    A long-running process whose stdout and stderr lines are collected as they
    come (so its pipes never fill), with a wait for a readiness line.
    """

    def __init__(self, argv, what, env=None):
        self.what = what
        self.argv = argv
        self.lines = []
        self._cond = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env=env)
        self._readers = [threading.Thread(target=self._read, args=(s,), daemon=True)
                         for s in (self.proc.stdout, self.proc.stderr)]
        for r in self._readers:
            r.start()

    @property
    def pid(self):
        return self.proc.pid

    def _read(self, stream):
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text, timeout):
        """
        Seconds from start until a line containing text (a string, or a
        compiled regular expression to search for) appeared; BenchError if it didn't.
        """
        found = text.search if isinstance(text, re.Pattern) else (lambda line: text in line)
        text = getattr(text, "pattern", text)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if found(line):
                        return time.monotonic() - self.started
                if self.proc.poll() is not None:
                    raise BenchError(f"{self.what} exited with {self.proc.returncode} before '{text}': "
                                     + " | ".join(self.lines[-10:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{self.what} printed no '{text}' within {timeout}s: " + " | ".join(self.lines[-10:]))
                self._cond.wait(min(left, 0.05))

    def stop(self, timeout=30, sig=signal.SIGTERM):
        """Sends sig (SIGTERM: a background job of a script ignores SIGINT), waits; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError(f"{self.what} did not exit within {timeout}s of {signal.Signals(sig).name}")
        for r in self._readers:
            r.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
