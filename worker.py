"""Worker entry (Procfile `worker`): an RQ worker that also leads rq-scheduler when elected."""
from presence_app import create_app
from presence_app.runtime import run_worker

if __name__ == "__main__":
    run_worker(create_app(role="worker"))
