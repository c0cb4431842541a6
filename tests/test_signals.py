"""Stop requests (SIGINT, SIGTERM) are one torch-free mechanism shared by a run, a sweep and
a sweep's workers."""

import os
import signal
import subprocess
import sys

from softmaxreg.training import signals


def test_the_stop_requests_module_needs_no_torch():
    script = (
        "import sys\n"
        "import softmaxreg.training.signals\n"
        "assert 'torch' not in sys.modules, 'imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_run_a_sweep_and_a_worker_share_one_mechanism():
    from softmaxreg.training import runner, sweep, sweep_worker

    assert runner.stop_requests is signals.stop_requests
    assert sweep.stop_requests is signals.stop_requests
    assert sweep_worker.request_stop_on_signals is signals.request_stop_on_signals


def test_the_first_signal_asks_a_stop_a_second_sigint_interrupts():
    previous = signal.getsignal(signal.SIGINT)
    with signals.stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.is_set()
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("a second SIGINT did not interrupt")
    assert signal.getsignal(signal.SIGINT) is previous
    with signals.stop_requests(twice=False) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # taken as the same request
        assert stop.is_set()
    with signals.stop_requests(enabled=False) as stop:
        assert signal.getsignal(signal.SIGINT) is previous and not stop.is_set()
