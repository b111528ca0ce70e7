"""`python -m webapp`: the web server and a worker; `python -m webapp worker`: a worker alone."""

import argparse
import logging
import os
import signal
import subprocess
import sys

from webapp import create_app


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Photo labeling and training app")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "worker"],
        default="serve",
        help="serve: web server plus a worker (default); worker: a worker alone",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--no-worker", action="store_true", help="serve without starting a worker")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command == "worker":
        from webapp.worker.consumer import run_worker

        return run_worker(create_app(), args.workers)
    return serve(args)


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def serve(args: argparse.Namespace) -> int:
    """Run waitress in this process and a worker in a child process; stop both on Ctrl-C or SIGTERM."""
    from waitress import create_server

    app = create_app()  # creates the instance folder and migrates the database before the worker starts
    worker = None if args.no_worker else _start_worker(args.workers)
    server = create_server(app, host=args.host, port=args.port, threads=app.config["WEB_THREADS"])
    signal.signal(signal.SIGTERM, _raise_interrupt)
    print(
        f"Serving on http://{args.host}:{server.effective_port}  (instance: {app.instance_path})", flush=True
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if worker is not None:
            _stop_worker(worker)
    return 0


def _start_worker(workers: int) -> subprocess.Popen:
    env = dict(os.environ, WEBAPP_PARENT_PID=str(os.getpid()))
    # Its own session: Ctrl-C reaches only this process, which then stops the worker without waiting
    # for a training run to finish.
    return subprocess.Popen(
        [sys.executable, "-m", "webapp", "worker", "--workers", str(workers)], env=env, start_new_session=True
    )


def _stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


if __name__ == "__main__":
    sys.exit(main())
