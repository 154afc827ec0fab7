"""``gankit report`` (a self-contained HTML page of one run or a comparison of runs) and
``gankit judge`` (the "real or generated?" page of the HYPE protocol, and its scores)."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

from gankit.errors import ConfigError
from gankit.registry import Bounds, Seed, coerce
from gankit.validate import check_output_file

Port = Annotated[int, Bounds(ge=0, le=65535)]
Exposure = Annotated[int, Bounds(ge=1, le=60_000)]
Pool = Annotated[int, Bounds(ge=10, le=1_000_000)]
Points = Annotated[int, Bounds(ge=2, le=100_000)]
Questions = Annotated[int, Bounds(ge=2, le=100_000)]


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="write a self-contained HTML report of one run, or compare runs",
                       description="One HTML file that opens offline: config, final metrics beside their "
                                   "baselines, the training curves, sample grids over training, per-class rows "
                                   "and judge scores. Several runs: side by side, curves overlaid.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  gankit report runs/gan-ns-ring-20261201-101500                 # -> RUN/report.html
  gankit report runs/gan-ns-ring-20261201-101500 --out ring.html
  gankit report runs/a runs/b runs/c --out compare.html          # side by side, curves overlaid""")
    r.add_argument("run_dirs", nargs="+", metavar="RUN", help="run directories (one, or several to compare)")
    r.add_argument("--out", "-o", help="the .html file (default: RUN/report.html for one run, "
                                       "report.html here for several)")
    r.set_defaults(func=run_report)

    j = sub.add_parser("judge", help="ask a person 'real or generated?' in a browser (HYPE protocol)",
                       description="Serve a local page that shows one item at a time (an image, or a scatter "
                                   "of a batch for point data), half real and half generated in a seeded random "
                                   "order, and records each answer in RUN/judge/SESSION.jsonl (restarting "
                                   "resumes). Without --exposure: HYPE-infinity (unlimited time); with it: each "
                                   "item is shown for MS milliseconds, then masked. Ctrl-C stops the server and "
                                   "prints the scores: people's, the run's discriminator's and a fresh "
                                   "classifier's, on the same items.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  gankit judge runs/cdcgan-ns-fashion-mnist-20261201-101500               # HYPE-infinity on 127.0.0.1:8765
  gankit judge runs/cdcgan-ns-fashion-mnist-20261201-101500 --exposure 250 --session alice
  gankit judge runs/cdcgan-ns-fashion-mnist-20261201-101500 --score       # the scores so far; serves nothing""")
    j.add_argument("run_dir", metavar="RUN", help="the run whose samples are judged")
    j.add_argument("--port", type=int, default=8765, help="TCP port (0: any free one); default 8765")
    j.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    j.add_argument("--n", type=int, default=20, help="questions in the session, half real (default 20)")
    j.add_argument("--exposure", type=int, metavar="MS", help="time-limited variant: show each item for MS ms")
    j.add_argument("--session", help="session name (default hype-inf, or hype-<MS>ms with --exposure); "
                                     "one per person")
    j.add_argument("--seed", type=int, default=0, help="seed of the items and their order (default 0)")
    j.add_argument("--points", type=int, default=256, help="points per item for point data (default 256)")
    j.add_argument("--pool", type=int, default=2000,
                   help="held-out real and generated samples each for the machine judges (default 2000)")
    j.add_argument("--score", action="store_true", help="print the scores of the answers so far; do not serve")
    j.add_argument("--verbose", action="store_true", help="log every request on stderr")
    j.set_defaults(func=run_judge)


# -- report ---------------------------------------------------------------------------------
def run_report(args: argparse.Namespace) -> int:
    from gankit.report.html import build_report
    from gankit.report.rundir import read_run

    dirs = [Path(d) for d in args.run_dirs]
    for d in dirs:
        read_run(d)  # every run readable before anything is written
    out = Path(args.out) if args.out else (dirs[0] / "report.html" if len(dirs) == 1 else Path("report.html"))
    check_report_path(out)
    path = build_report(dirs, out)
    print(f"wrote {path}")
    return 0


def check_report_path(out: Path) -> Path:
    """``--out``: an .html path that is new or an earlier gankit report (never another file)."""
    from gankit.report.html import GENERATOR_TAG

    check_output_file(out, "--out", (".html", ".htm"))
    if out.exists():
        try:
            with open(out, "rb") as f:
                head = f.read(4096).decode("utf-8", errors="replace")
        except OSError as e:
            raise ConfigError(f"--out {out}: cannot read it ({e.strerror})") from None
        if GENERATOR_TAG not in head:
            raise ConfigError(f"--out {out} exists and is not a gankit report; choose another file")
    return out


# -- judge ----------------------------------------------------------------------------------
def run_judge(args: argparse.Namespace) -> int:
    from gankit.report.judge import open_session, session_name
    from gankit.session.run import load_run

    port = coerce(args.port, Port, "--port")
    n = coerce(args.n, Questions, "--n")
    seed = coerce(args.seed, Seed, "--seed")
    points = coerce(args.points, Points, "--points")
    pool = coerce(args.pool, Pool, "--pool")
    exposure = coerce(args.exposure, Exposure, "--exposure") if args.exposure is not None else None
    host = str(args.host)
    if not host or any(c.isspace() for c in host):
        raise ConfigError(f"--host must be an address such as 127.0.0.1, got {host!r}")
    name = args.session or session_name(exposure)
    run_dir = Path(args.run_dir)
    run = load_run(run_dir)
    if not args.score:
        _check_port(host, port)  # before the session writes its files: a busy port leaves nothing behind
    session = open_session(run, run_dir, name=name, n=n, seed=seed, exposure_ms=exposure, points=points)
    if args.score:
        _score(run, run_dir, session, pool, seed)
        return 0
    return _serve(run, run_dir, session, host, port, pool, seed, verbose=args.verbose)


def _check_port(host: str, port: int) -> None:
    """Bind ``host:port`` as the server will (and let go): a port in use, or an address this machine
    does not have, is one line before anything is written. Port 0 (any free port) always binds."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does (allow_reuse_address)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is in use; pass --port N (0 picks a free one)") from None
            raise ConfigError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


def _score(run: Any, run_dir: Path, session: Any, pool: int, seed: int) -> None:
    from gankit.report.html import write_report
    from gankit.report.score import format_rows, score_run

    result = score_run(run, run_dir, session, pool=pool, seed=seed)
    answered = sum(1 for r in result["rows"] if r["judge"].startswith("human"))
    print(f"judge: {run_dir} ({result['kind']}; session {session.name}: {len(session.log.answers)} of "
          f"{len(session.items)} answered; {answered} session(s) with answers). Error rates: 50 % = cannot tell.")
    print(format_rows(result["rows"]))
    report = write_report(run_dir, class_names=session.items.class_names or None)
    print(f"scores in {run_dir / 'judge' / 'score.json'}; report {report}")


def _serve(run: Any, run_dir: Path, session: Any, host: str, port: int, pool: int, seed: int, *,
           verbose: bool) -> int:
    from gankit.report.server import JudgeApp, make_server

    app = JudgeApp(session, run_dir.resolve().name)
    try:
        server = make_server(app, host, port, quiet=not verbose)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use; pass --port N (0 picks a free one)") from None
        raise ConfigError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    log = session.log.path
    print(f"judge: session {session.name} of {run_dir}: {len(session.log.answers)} of {len(session.items)} "
          f"answered; answers go to {log}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"judge: serving on {host}: anyone who can reach this machine on port {bound} can answer",
              file=sys.stderr)
    print(f"judge: open http://{shown}:{bound}/ in a browser (keyboard: Enter, then R = real, F = generated); "
          "Ctrl-C stops and prints the scores", flush=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    # Both signals stop the server (a SIGINT ignored by a parent shell, as for background jobs, too).
    main = threading.current_thread() is threading.main_thread()
    old = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    announced = session.done
    try:
        thread.start()
        while thread.is_alive():
            if app.finished.wait(0.5) and not announced:
                announced = True
                print(f"judge: session {session.name} complete ({len(session.items)} answers); Ctrl-C for the "
                      "scores", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    print("judge: stopped; answers kept", flush=True)
    _score(run, run_dir, session, pool, seed)
    return 0


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
