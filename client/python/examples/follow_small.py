#!/usr/bin/env python3
"""Submits configs/small.yaml for a few epochs on a slice of Fashion-MNIST, follows it
and prints one table row per epoch, then the best checkpoint's path.

    PYTHONPATH=build/python python3 client/python/examples/follow_small.py \
        [--server 127.0.0.1:50051] [--epochs 3] [--data-limit 1000]

The token, if the server wants one, comes from $EDBP_TOKEN.
"""

import argparse
import pathlib
import sys

import edbp

ROOT = pathlib.Path(__file__).resolve().parents[3]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None, help="default: $EDBP_SERVER or 127.0.0.1:50051")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-limit", type=int, default=1000)
    parser.add_argument("--out", default="small_best.safetensors")
    args = parser.parse_args()

    config = (ROOT / "configs/small.yaml").read_text()
    config = config.replace("epochs: 100", f"epochs: {args.epochs}", 1)
    config = config.replace("n_steps: 5", f"n_steps: 5\n  data_limit: {args.data_limit}", 1)

    with edbp.Client(args.server) as client:
        try:
            job = client.submit(config, name="small from Python")
        except edbp.InvalidArgumentError as e:
            print("the config was refused:", *e.errors, sep="\n  ", file=sys.stderr)
            return 2
        print(f"{job.name} submitted ({job.state})")
        print(f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'test acc':>8} {'s':>6}")
        for event in client.watch(job):
            if event.kind == "epoch_metrics":
                m = event.data
                print(f"{m['epoch']:>5} {m['train_loss']:>10.4f} "
                      f"{100 * m['train_accuracy']:>8.2f}% {100 * m['test_accuracy']:>7.2f}% "
                      f"{m['seconds']:>6.1f}")
            elif event.kind == "state_change" and event.data["error"]:
                print(f"{event.data['state']}: {event.data['error']}", file=sys.stderr)
        job = client.get(job)
        print(f"{job.name}: {job.state}, best test accuracy "
              f"{100 * (job.best_test_accuracy or 0):.2f}%")
        if job.state != "SUCCEEDED":
            return 1
        print("best checkpoint:", client.download(job, best=True, path=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
