"""`make plots`: draw the flow metrics of a running system, through the gateway, into PNG files.

    python -m scripts.plot_kpis [--url ...] [--username ...] [--password ...] [--days 70]

Signs in as a user (any user may read KPIs; the defaults are `make run`'s gateway and a user
`make seed` creates) and draws, for the last `--days` local days in `--tz`:
- `cumulative-flow.png`: the live tasks in each status at the end of each day, stacked (done
  at the bottom), from `GET /kpi/flow/cumulative`;
- `cycle-time.png`: each task completed in the window (done now) at its completion date and
  cycle time, from `GET /kpi/flow/completions` (every page), with the window's p50 and p85
  cycle time from `GET /kpi/flow/times` as horizontal lines.
"""

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import matplotlib

matplotlib.use("Agg")  # files only, no display
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
matplotlib.rcParams["date.epoch"] = EPOCH.strftime("%Y-%m-%dT%H:%M:%S")  # what `_x` counts from
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)

DAY = 86400.0
STATUSES = [("done", "#4c9a5b"), ("in_progress", "#e0a030"), ("todo", "#8aa4c8")]


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    """Log in and send the access token with every later request."""
    response = client.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


def fetch(client: httpx.Client, path: str, **params: str) -> Any:
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()


def completions(client: httpx.Client, window: dict[str, str]) -> list[dict[str, Any]]:
    """Every completion of the window, page after page."""
    items: list[dict[str, Any]] = []
    params = {**window, "page_size": "200"}
    while True:
        page = fetch(client, "/kpi/flow/completions", **params)
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


def _x(moment: datetime) -> float:
    """A time as matplotlib's dates are: days since `EPOCH` (a naive time is taken as UTC)."""
    return (moment.replace(tzinfo=moment.tzinfo or UTC) - EPOCH).total_seconds() / DAY


def plot_cumulative_flow(flow: dict[str, Any], path: Path) -> None:
    days = [_x(datetime.fromisoformat(item["day"])) for item in flow["items"]]
    figure, axes = plt.subplots(figsize=(10, 5))
    axes.stackplot(
        days,
        *([item[status] for item in flow["items"]] for status, _ in STATUSES),
        labels=[status.replace("_", " ") for status, _ in STATUSES],
        colors=[color for _, color in STATUSES],
    )
    axes.set_title(f"Cumulative flow, {flow['start']} to {flow['end']} ({flow['tz']})")
    axes.set_ylabel("tasks at the end of the day")
    axes.legend(loc="upper left")
    axes.margins(x=0)
    axes.xaxis_date()
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def plot_cycle_times(items: list[dict[str, Any]], times: dict[str, Any], path: Path) -> None:
    started = [item for item in items if item["cycle_seconds"] is not None]
    figure, axes = plt.subplots(figsize=(10, 5))
    axes.scatter(
        [_x(datetime.fromisoformat(item["completed_at"])) for item in started],
        [item["cycle_seconds"] / DAY for item in started],
        s=14,
        alpha=0.7,
        label=f"a completed task ({len(started)})",
    )
    for name, style in (("p50", "--"), ("p85", "-.")):
        seconds = times["cycle"][f"{name}_seconds"]
        if seconds is not None:
            label = f"{name}: {seconds / DAY:.1f} days"
            axes.axhline(seconds / DAY, color="#c0392b", linestyle=style, label=label)
    axes.set_title(f"Cycle time, tasks completed {times['start']} to {times['end']}")
    axes.set_ylabel("cycle time (days, from first start to completion)")
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    axes.xaxis_date()
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.plot_kpis")
    parser.add_argument("--url", default="http://127.0.0.1:8080/api", help="the gateway's API")
    parser.add_argument("--username", default="alice")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--days", type=int, default=70, help="the window: the last N days")
    parser.add_argument("--tz", default="UTC", help="an IANA zone for the days")
    parser.add_argument("--out", type=Path, default=Path("docs/plots"))
    args = parser.parse_args()
    today = datetime.now(ZoneInfo(args.tz)).date()
    window = {
        "from": (today - timedelta(days=args.days - 1)).isoformat(),
        "to": today.isoformat(),
        "tz": args.tz,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=args.url, timeout=30) as client:
        sign_in(client, args.username, args.password)
        flow = fetch(client, "/kpi/flow/cumulative", **window)
        times = fetch(client, "/kpi/flow/times", **window)
        done = completions(client, window)
    plot_cumulative_flow(flow, args.out / "cumulative-flow.png")
    plot_cycle_times(done, times, args.out / "cycle-time.png")
    print(f"wrote {args.out / 'cumulative-flow.png'} and {args.out / 'cycle-time.png'}")


if __name__ == "__main__":
    main()
