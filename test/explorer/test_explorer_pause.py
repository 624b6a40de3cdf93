"""The explorer's pause: `paused` means no training step is in flight and the counter holds."""
import time


def wait_for(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, 'timed out'
        time.sleep(0.005)


def test_pause_reports_paused_only_after_the_step_in_flight(bench_and_session):
    bench, session = bench_and_session
    job = bench.start_training(session, 0, 10, steps=100_000)
    wait_for(lambda: job.step >= 1)
    # Pause while a step is in flight: hold the model lock, so the training thread, past its
    # check for a pause, waits on it for its next step.
    with bench._model_lock:
        in_flight = job.step
        time.sleep(0.2)
        bench.pause()
        assert job.state == 'pausing'
        time.sleep(0.2)
        assert job.state == 'pausing' and job.step == in_flight
    wait_for(lambda: job.state == 'paused')
    # The step in flight has ended and was counted; nothing runs until resume.
    held = job.step
    assert held == in_flight + 1 == len(job.losses)
    time.sleep(0.5)
    assert job.step == held and job.state == 'paused'
    bench.resume()
    wait_for(lambda: job.step > held)
    bench.cancel()
    assert job.state == 'done' and job.step == len(job.losses)
