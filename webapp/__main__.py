"""`python -m webapp`: the web server and a worker; `python -m webapp worker`: a worker alone."""

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading

from webapp import create_app, logs


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
    parser.add_argument("--verbose", action="store_true", help="log details (migrations, jobs, TensorFlow)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.configure(args.verbose)
    if args.command == "worker":
        from webapp.worker.consumer import run_worker

        return run_worker(create_app(), args.workers)
    return serve(args)


def _raise_interrupt(_signum, _frame):
    raise KeyboardInterrupt


def serve(args: argparse.Namespace) -> int:
    """Run waitress in this process and a worker in a child process; stop both on Ctrl-C or SIGTERM."""
    from waitress import create_server

    from webapp.web.announce import start_lines

    # Where the server listens decides which Host headers it answers and the address a phone gets.
    os.environ["WEBAPP_LISTEN_HOST"], os.environ["WEBAPP_LISTEN_PORT"] = args.host, str(args.port)
    app = create_app()  # creates the instance folder and migrates the database before the worker starts
    try:  # bind first: a port in use must not leave a worker behind
        server = create_server(app, host=args.host, port=args.port, threads=app.config["WEB_THREADS"])
    except OSError as exc:
        print(
            f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Is the app already running? "
            "Stop it, or choose another port with --port.",
            file=sys.stderr,
            flush=True,
        )
        return 2
    app.config["LISTEN_PORT"] = server.effective_port
    check_store_in_background(app)
    worker = None
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        worker = None if args.no_worker else _start_worker(args.workers)
        print("\n".join(start_lines(app, args.host, server.effective_port)), flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if worker is not None:
            _stop_worker(worker)
    return 0


def check_store_in_background(app) -> threading.Thread:
    """The cheap store check (no hashing), then grouping photos from before near-duplicate groups, in a
    thread: a log line each, serving starts at once."""

    log = logging.getLogger("webapp.check")

    def check() -> None:
        from webapp.db import db
        from webapp.services.check import check_store

        with app.app_context():
            try:
                log.info("%s", check_store().summary())
                _group_older_photos(log)
            except Exception:  # a report, never a reason not to serve
                log.exception("the start-up store check failed")
            finally:
                db.session.remove()

    thread = threading.Thread(target=check, name="store-check", daemon=True)
    thread.start()
    return thread


def _group_older_photos(log: logging.Logger) -> None:
    """After an upgrade: fingerprint and group the photos stored before near-duplicate groups existed."""
    from webapp.services.groups import backfill_once, needs_backfill

    counts = backfill_once() if needs_backfill() else None
    if counts and counts["fingerprinted"]:
        log.info("near-duplicates: %(fingerprinted)s older photos fingerprinted, %(grouped)s grouped", counts)


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
