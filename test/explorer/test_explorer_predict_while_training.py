"""A prediction asked for while the explorer trains waits for the step in flight, not the run."""
import time


def test_predictions_take_turns_with_training_steps(bench_and_session):
    bench, session = bench_and_session
    job = bench.start_training(session, 0, 10, steps=100_000)
    deadline = time.monotonic() + 60
    while job.step < 1:
        assert time.monotonic() < deadline, 'training never started'
        time.sleep(0.005)
    for index in range(10):
        before = job.step
        assert len(bench.predict(session, index)['predictions']) == 2
        # The step in flight when the prediction asked, perhaps the one after its ticket was
        # drawn, and one the trainer may finish before this thread reads the counter.
        assert job.step - before <= 3
    assert job.state == 'training'
    bench.cancel()
    assert job.state == 'done' and job.step == len(job.losses) < 100_000
