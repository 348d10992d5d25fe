"""Run every tutorial command in a fresh folder and write docs/tutorial.md with their real output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root (this file is docs/tools/)
WORK = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/preserve-tutorial")
OUT = REPO / "docs" / "tutorial.md"

# (markdown before, command or None, run it?)
STEPS: list[tuple[str, str | None, bool]] = [
    ("""# Tutorial: from request logs to applied KEDA and Terraform objects

Every command below was run from the repository root of a fresh checkout (`python3 -m venv .venv &&
.venv/bin/pip install -e .`, then `. .venv/bin/activate`); the output under each command is what it
printed (stdout and stderr, in a terminal 100 columns wide), followed by its exit code and wall time on a
2-core x86-64 machine shared with other jobs (load average 5–10). Two steps need things this machine does
not have (a Kubernetes cluster; Terraform's provider registry): they are marked **not run here**.

The data is the bundled example: 14 days (2025-01-06 to 2025-01-19) of the ServeGen `language/m-large`
workload, Alibaba Cloud Model Studio production traffic, as hourly token demand
(`examples/servegen-m-large-hourly.csv`, see examples/ATTRIBUTION.md). With your own logs, the first step
reads them instead (`preserve demand logs/*.csv.gz --window 1h -o demand.csv`; formats in the README).

""", None, False),
    ("", "preserve --version", True),
    ("""Shell completion (bash, zsh, fish, PowerShell): `preserve --install-completion`, then open a new shell.

## 1. Demand per hour
""", "preserve demand examples/servegen-m-large-hourly.csv --window 1h -o demand.csv", True),
    ("""`demand.csv` holds prefill (prompt) and decode (generated) tokens per hour; missing hours stay missing.

## 2. Forecast the next week
The story: it is the evening of 2025-01-18 and the nightly job plans the week from 2025-01-19. `--start`
makes the forecast use only the history before it, so the last day of the example (2025-01-19) is still
to come and can be audited in step 6.
""", "preserve forecast demand.csv --start 2025-01-19T00:00:00Z --horizon 7d -o forecast.csv", True),
    ("""Notes go to stderr; the table to stdout. How good were such forecasts in the past? A backtest makes them
from past origins and scores them, and says what plans they would have led to:
""", "preserve forecast demand.csv --backtest --origins 3 -o backtest.csv", True),
    ("""
## 3. Plan replicas and write the objects the serving stack applies
The example fleet (`examples/fleet.yaml`) serves the workload with Llama-3.1-8B on three GPU pools
(A100 in westus, H100 in eastus, H200 in centralus), SLO TTFT p99 2 s / TPOT p99 100 ms.
""", "preserve plan forecast.csv --fleet examples/fleet.yaml --emit schedule,routing,keda,terraform -o plan", True),
    ("""The KEDA ScaledObjects (one per deployment; cron triggers follow the plan, cold-start lead included):
""", "sed -n '1,30p' plan/keda-scaledobjects.yaml", True),
    ("""Apply them (**not run here**: no cluster on this machine; the objects are validated against KEDA's CRD in
`tests/emit`):
```
kubectl apply -f plan/keda-scaledobjects.yaml
```

## 4. Terraform
`preserve plan --emit terraform` wrote `terraform.yaml` and `preserve.auto.tfvars.json` for the module in
`examples/terraform/`. Terraform reads the plan files with its own functions (run here with
`terraform console`, which needs no provider; this machine has no `~/.terraformrc`, so the runs set
`TF_CLI_CONFIG_FILE` to an empty file to silence Terraform's warning about it):
""", "echo 'yamldecode(file(\"plan/schedule.yaml\")).totals' | terraform console -no-color", True),
    ("", "echo 'jsondecode(file(\"plan/preserve.auto.tfvars.json\")).preserve_replicas_now' | terraform console -no-color", True),
    ("""For a pipeline, `-o -` prints one emitter's document on stdout (`NAME:FILE` picks one file of an emitter
that writes several; the summary goes to stderr, `-q` drops it), so it redirects straight into the
Terraform folder:
""", "preserve plan forecast.csv --fleet examples/fleet.yaml --emit terraform:preserve.auto.tfvars.json -o - -q "
         "> capacity.auto.tfvars.json && cmp capacity.auto.tfvars.json plan/preserve.auto.tfvars.json && echo identical",
     True),
    ("""Applying the module (**not run here**: `terraform init` downloads the `hashicorp/kubernetes` provider,
and there is no cluster):
```
cp -r examples/terraform infra/preserve
preserve plan forecast.csv --fleet examples/fleet.yaml --emit schedule,terraform -o infra/preserve -q
terraform -chdir=infra/preserve init && terraform -chdir=infra/preserve apply
```

## 5. What if …? (nothing is edited, nothing is written without -o)
Traffic grows 30%:
""", "preserve plan forecast.csv --fleet examples/fleet.yaml --scale-demand 1.3 --compare", True),
    ("""The A100 pool moves to H200 at H200's price ($4.00 per GPU-hour, the fleet file's price source):
""", "preserve plan forecast.csv --fleet examples/fleet.yaml --gpu a100-80gb=h200 --pool a100-westus.usd_per_hour=4.0 "
         "--compare -q --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"compare\"], indent=1))'",
     True),
    ("""A tighter decode SLO (TPOT p99 50 ms instead of 100 ms):
""", "preserve plan forecast.csv --fleet examples/fleet.yaml --slo tpot_p99_ms=50 --compare -q --json "
         "| python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"compare\"][\"totals\"], indent=1))'",
     True),
    ("""
## 6. The next morning: how did the plan do?
2025-01-19 has happened; `demand.csv` holds it. The audit compares the plan in force with the traffic that
came, window by window (windows not in the logs yet are counted, not audited; more in [audit.md](audit.md)):
""", "preserve audit --plan plan/schedule.yaml demand.csv --max-under-windows 2", True),
    ("""Exit code 4: more than 2 under-provisioned windows. 2025-01-19 carried 3.25× the prefill and 4.33× the
decode tokens of 2025-01-18; nothing in the 13 days before announced it.

## 7. A report to look at
One self-contained HTML file (inline SVG charts, no script, no CDN: it opens offline) and a PNG per chart:
""", "preserve report plan --demand demand.csv --forecast forecast.csv --backtest backtest.csv -o report.html", True),
    ("""`--simulate results.json` (saved from `preserve simulate compare ... --json`) adds the simulation table.

## 8. Cron
Exit codes: 0 ok, 2 bad input (one line on stderr naming the file, line or field and the fix; nothing
written), 3 the `--previous` guard refused a plan that drops a model's replicas by more than half, 4 an
audit threshold was crossed. A nightly crontab (**not run here**):
```
# 01:30 UTC: re-plan from yesterday's logs; the guard (exit 3) keeps the plan in force on a bad forecast.
30 1 * * * cd /srv/preserve && preserve plan logs/ --fleet fleet.yaml --previous plan/schedule.yaml -o plan -q && git commit -qam "plan $(date -u +\\%F)" plan/
# 07:00 UTC: the morning report, history and plan, for the team page.
0 7 * * * cd /srv/preserve && preserve report plan --demand logs/ -o /var/www/preserve/report.html -q
# 07:15 UTC: audit yesterday; mail when more than 2 hours were under-provisioned.
15 7 * * * cd /srv/preserve && preserve audit -q --plan plan/schedule.yaml logs/yesterday/ --max-under-windows 2 || mail -s "capacity plan missed" sre@example.com < /dev/null
```
""", None, False),
]


def main() -> None:
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    (WORK / "examples").symlink_to(REPO / "examples")
    empty = WORK / ".terraformrc"
    empty.write_text("")
    env = {**os.environ, "COLUMNS": "100", "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
           "TF_CLI_CONFIG_FILE": str(empty)}
    parts = []
    for text, command, run in STEPS:
        parts.append(text)
        if command is None or not run:
            continue
        started = time.monotonic()
        done = subprocess.run(["bash", "-c", command], cwd=WORK, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        parts.append(f"```\n$ {command}\n")
        parts.append(f"{output.rstrip()}\n```\n(exit code {done.returncode}, {seconds:.1f} s)\n\n")
    OUT.write_text("".join(parts).replace("\n\n\n", "\n\n"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
