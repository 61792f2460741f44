"""The GitHub Actions recipes in examples/: valid, pinned, and safe with the Meta token.

actionlint (with shellcheck for the `run:` scripts, both from requirements-dev.txt) must report
nothing. On top of what a linter can know, the safety properties of the recipes are checked
from their YAML: no job that runs a pull request's code gets the Meta token, every action is
pinned to a commit, no checkout keeps its credentials, and the scheduled and deploy jobs keep
the promises their comments make.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from provider import zones
from provider.windows import STACK_KEY as STACK_WINDOWS, parse_windows, resolve, state
from tests.matching import must_match

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "examples").glob("*.yml"))
BIN = Path(sys.executable).parent
# How a job can get the Meta token: the secret by name, any secret by computed name or all of them.
META_SECRET = re.compile(r"secrets\s*\.\s*WHATSAPP|secrets\s*\[|toJSON\s*\(\s*secrets", re.I)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
BASE_REF = "${{ github.event.pull_request.base.sha }}"
PR_EVENTS = {"pull_request", "pull_request_target"}


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def events(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def checkouts(job: dict) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith("actions/checkout@")]


def gets_meta_token(block: dict) -> bool:
    """True when a workflow, job or step (with everything inside it) can read the Meta token."""
    envs = [block.get("env", {})] + [s.get("env", {}) for s in steps(block)]
    named = any(key.upper() == "WHATSAPP_ACCESS_TOKEN" for env in envs for key in env)
    return named or bool(META_SECRET.search(yaml.safe_dump({k: v for k, v in block.items() if k != "jobs"})))


def tool(name: str) -> str:
    path = shutil.which(name, path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    assert path, f"{name} is missing: it comes with requirements-dev.txt (pip install -r requirements-dev.txt)"
    return path


def test_there_are_three_recipes():
    assert [p.name for p in WORKFLOWS] == ["deploy-on-merge.yml", "nightly-drift.yml", "pr-preview.yml"]


def test_actionlint_with_shellcheck_finds_nothing_in_the_recipes():
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    tool("shellcheck")
    done = subprocess.run([tool("actionlint"), "-no-color", *map(str, WORKFLOWS)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_actionlint_does_report_a_broken_workflow(tmp_path):
    """The linter really runs: an unknown expression and a shell bug are findings."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_thing }} $UNQUOTED_VAR\n")
    env = dict(os.environ, PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    done = subprocess.run([tool("actionlint"), "-no-color", str(broken)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "no_such_thing" in done.stdout and "SC2086" in done.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version(path):
    text = path.read_text()
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", text, re.M)
    assert uses
    for ref in uses:
        assert PINNED.match(ref), f"{path.name}: `uses: {ref}` is not `owner/repo@<40-hex sha> # vX.Y.Z`"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_checkout_drops_its_credentials(path):
    workflow = load(path)
    found = [c for job in workflow["jobs"].values() for c in checkouts(job)]
    assert found
    for checkout in found:
        assert checkout.get("with", {}).get("persist-credentials") is False, checkout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_cli_release_is_the_one_of_the_pinned_sdk(path):
    sdk = must_match(re.search(r"^pulumi==(\S+)", (ROOT / "requirements.txt").read_text(), re.M),
                     "the pulumi pin").group(1)
    installs = [s for job in load(path)["jobs"].values() for s in steps(job)
                if str(s.get("uses", "")).startswith("pulumi/actions@")]
    assert installs
    assert {str(s["with"]["pulumi-version"]) for s in installs} == {sdk}


def _pr_code_jobs(workflow: dict) -> dict[str, dict]:
    """Jobs that run the pull request's code: a checkout of it at the workspace root."""
    return {name: job for name, job in workflow["jobs"].items()
            if any(c.get("with", {}).get("ref") != BASE_REF and not c.get("with", {}).get("path")
                   for c in checkouts(job))}


def test_the_pull_request_workflow_runs_from_the_base_branch_and_runs_no_pull_request_code():
    """On `pull_request` GitHub runs the pull request's own copy of the workflow, so any branch could
    add a step that prints a secret; on `pull_request_target` it runs the base branch's copy. And no
    job runs the pull request's code: `pulumi preview` would decrypt the stack's secrets for it."""
    workflow = load(ROOT / "examples" / "pr-preview.yml")
    assert events(workflow) == {"pull_request_target"}
    assert not gets_meta_token(workflow), "the token is set for every job"
    assert _pr_code_jobs(workflow) == {}, "a job checks out the pull request at the workspace root"
    text = (ROOT / "examples" / "pr-preview.yml").read_text()
    assert not re.search(r"^\s*(?:[^#\n]*\s)?pulumi (preview|up|refresh)\b", "\n".join(
        s.get("run", "") for job in workflow["jobs"].values() for s in steps(job)), re.M)
    assert "github.event.pull_request.head.sha" in text
    for name, job in workflow["jobs"].items():
        for checkout in checkouts(job):
            if checkout["with"].get("ref") != BASE_REF:
                assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
                assert checkout["with"].get("path"), f"job {name}: the pull request is checked out as data, aside"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_with_a_meta_or_pulumi_secret_takes_it_from_an_environment(path):
    """Repository secrets reach every `pull_request` run of every branch; environment secrets reach
    only the jobs that name the environment, on the branches its rules allow."""
    workflow = load(path)
    found = 0
    for name, job in workflow["jobs"].items():
        if re.search(r"secrets\s*\.\s*(WHATSAPP|PULUMI)", yaml.safe_dump(job)):
            found += 1
            assert job.get("environment") in ("whatsapp-read", "production"), f"job {name} has no environment"
    assert found
    if path.name != "deploy-on-merge.yml":
        assert all(job.get("environment") != "production" for job in workflow["jobs"].values()), \
            "only the deploy job gets the production environment (and its write token)"


def test_the_job_with_the_meta_token_runs_the_base_branch_code_and_only_reads_the_pull_request():
    workflow = load(ROOT / "examples" / "pr-preview.yml")
    with_token = {name: job for name, job in workflow["jobs"].items() if gets_meta_token(job)}
    assert set(with_token) == {"plan"}
    job = with_token["plan"]
    base = [c for c in checkouts(job) if c["with"].get("ref") == BASE_REF]
    pr = [c for c in checkouts(job) if c["with"].get("ref") != BASE_REF]
    assert len(base) == 1 and len(pr) == 1
    base_dir, pr_dir = base[0]["with"]["path"], pr[0]["with"]["path"]
    assert base_dir and pr_dir and base_dir != pr_dir
    for step in steps(job):
        where = step.get("working-directory", ".")
        assert not where.startswith(pr_dir), f"step {step.get('name')} runs inside the pull request's checkout"
        assert not str(step.get("uses", "")).startswith("./"), "a local action would come from the checkout"
        if re.search(r"pip install|\.venv/bin/python", step.get("run", "")):
            assert where == base_dir, f"step {step.get('name')} must run the base branch's code"
    plan = next(s for s in steps(job) if "python -m provider plan" in s.get("run", ""))
    assert f"--project-dir ../{pr_dir}" in plan["run"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_only_the_steps_that_call_meta_get_the_meta_token(path):
    workflow = load(path)
    assert not gets_meta_token({k: v for k, v in workflow.items() if k != "jobs"})
    given = 0
    for name, job in workflow["jobs"].items():
        assert not gets_meta_token({k: v for k, v in job.items() if k != "steps"}), f"job {name}: job-wide token"
        for each in steps(job):
            if gets_meta_token({"steps": [each]}):
                given += 1
                assert "uses" not in each, f"job {name}: an action gets the Meta token"
                assert re.search(r"python -m provider (plan|drift)|pulumi (up|refresh|preview)\b", each["run"]), each
    assert given >= 1


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yml")), ids=lambda p: p.name)
def test_only_the_steps_that_run_pulumi_get_the_pulumi_token(path):
    """PULUMI_ACCESS_TOKEN can export the stack's secrets: no job-wide value, no action, no install step."""
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        assert "PULUMI_ACCESS_TOKEN" not in (job.get("env") or {}), f"job {name}: job-wide Pulumi token"
        for each in steps(job):
            if "PULUMI_ACCESS_TOKEN" in (each.get("env") or {}):
                assert "uses" not in each, f"job {name}: an action gets the Pulumi token"
                assert re.search(r"(^|\s)pulumi (up|refresh|preview|stack)\b", each["run"], re.M), each["name"]


def test_a_failing_plan_still_gets_posted_and_fails_the_run():
    workflow = load(ROOT / "examples" / "pr-preview.yml")
    comment = workflow["jobs"]["comment"]
    assert set(comment["needs"]) == {"plan"}
    assert comment["if"].startswith("always()")
    assert comment["permissions"] == {"pull-requests": "write"}
    assert not checkouts(comment), "the job that can write comments checks out no code"
    assert "environment" not in comment and not re.search(r"secrets\.", yaml.safe_dump(comment))
    gate = steps(comment)[-1]
    assert "needs.plan.result != 'success'" in gate["if"]


def test_the_comment_about_forks_matches_what_happens():
    workflow = load(ROOT / "examples" / "pr-preview.yml")
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert workflow["jobs"]["plan"]["if"] == same_repo + " && github.ref == 'refs/heads/main'"
    assert same_repo in workflow["jobs"]["comment"]["if"]
    assert workflow["jobs"]["fork"]["if"] == same_repo.replace("==", "!=")
    assert not gets_meta_token(workflow["jobs"]["fork"]) and "environment" not in workflow["jobs"]["fork"]
    header = (ROOT / "examples" / "pr-preview.yml").read_text().split("\nname:")[0]
    assert "forks get no plan" in " ".join(header.replace("#", "").split())


def test_the_deploy_job_is_never_cut_short_mid_cutover():
    workflow = load(ROOT / "examples" / "deploy-on-merge.yml")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    job = workflow["jobs"]["up"]
    assert job.get("timeout-minutes", 360) >= 360
    up = next(s for s in steps(job) if "pulumi up" in s.get("run", ""))
    assert "timeout-minutes" not in up and "continue-on-error" not in up
    assert job["environment"] == "production"


def test_the_nightly_job_reads_once_alerts_on_drift_only_and_reuses_its_issue():
    path = ROOT / "examples" / "nightly-drift.yml"
    job = load(path)["jobs"]["drift"]
    runs = "\n".join(s.get("run", "") for s in steps(job))
    assert len(re.findall(r"\.venv/bin/python -m provider drift\b", runs)) == 1, "one drift read, not two that can disagree"
    refresh = [line for line in runs.splitlines() if re.match(r"\s*pulumi refresh\b", line)]
    assert len(refresh) == 1 and "--run-program" in refresh[0] and "--expect-no-changes" in refresh[0]
    alert = next(s for s in steps(job) if "gh issue create" in s.get("run", ""))
    assert "failure" not in alert["if"] and "== '7'" in alert["if"], "a failed refresh is an error, not drift"
    assert "gh issue list" in alert["run"] and "gh issue comment" in alert["run"], "one issue, not one a night"
    errors = next(s for s in steps(job) if s.get("name", "").startswith("Fail on errors"))
    assert "!= '7'" in errors["if"] and "always()" in errors["if"]


def test_the_shell_scripts_pass_shellcheck():
    scripts = [ROOT / "scripts" / "up-local", ROOT / "scripts" / "test", ROOT / "scripts" / "venv.sh",
               ROOT / ".ci" / "run"]
    done = subprocess.run([tool("shellcheck"), "-x", *map(str, scripts)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -- the steps' shell, run for real ----------------------------------------------------------------
# GitHub runs `run:` with `bash --noprofile --norc -eo pipefail`. The project's own commands run
# for real against the emulator; `pulumi` and `gh` are stand-ins that record their arguments
# (`pulumi stack export` fails, as it does without a backend).

LOCAL_URL = "http://127.0.0.1:8787"


def step(path: Path, job: str, name_starts: str) -> dict:
    return next(s for s in steps(load(path)["jobs"][job]) if s.get("name", "").startswith(name_starts))


def run_step(script: str, cwd: Path, tmp_path: Path, *, exported: str = "",
             **env: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``exported``: the file `pulumi stack export` prints (without one it fails, as without a backend)."""
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    export = f'{{ cat "{exported}"; exit 0; }}' if exported else "exit 255"
    for name in ("pulumi", "gh"):
        fake = fake_bin / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.log"\n'
                        f'[ "{name} $1 $2" = "pulumi stack export" ] && {export}\nexit 0\n')
        fake.chmod(0o755)
    outputs = tmp_path / "github-output"
    outputs.write_text("")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "PULUMI_"))}
    full_env.update(PATH=os.pathsep.join([str(fake_bin), str(BIN), "/usr/bin", "/bin"]), STACK="local",
                    GITHUB_OUTPUT=str(outputs), RUNNER_TEMP=str(tmp_path), **env)
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=120, check=False)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return done, values


def project_copy(where: Path, url: str, region_923: str = "BR") -> Path:
    """Pulumi.yaml and the local stack file (pointing at `url`), as a pull request's checkout has them."""
    where.mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", where / "Pulumi.yaml")
    (where / "stacks").mkdir()
    stack = (ROOT / "stacks" / "Pulumi.local.yaml").read_text().replace(LOCAL_URL, url)
    stack = stack.replace("region: BR", f"region: {region_923}")
    (where / "stacks" / "Pulumi.local.yaml").write_text(stack)
    return where


def test_the_plan_step_runs_the_base_code_on_the_pull_requests_stack_file(tmp_path, emulator):
    workspace = tmp_path / "workspace"
    base = workspace / "base"
    base.mkdir(parents=True)
    for name in ("provider", ".venv", "Pulumi.yaml", "stacks"):
        (base / name).symlink_to(ROOT / name)
    project_copy(workspace / "pr", emulator.url, region_923="DE")
    plan = step(ROOT / "examples" / "pr-preview.yml", "plan", "python -m provider plan")
    assert plan["working-directory"] == "base"
    done, outputs = run_step(plan["run"], base, tmp_path, WHATSAPP_ACCESS_TOKEN=emulator.token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pulumi stack export failed: the plan below has no register budgets" in done.stderr
    assert outputs == {"exit": "1"}, "a plan without register budgets must not pass"
    markdown = (workspace / "plan.md").read_text()
    assert "| `106540352242923` | acme-brasil | will change | BR, registered | DE, registered |" in markdown


def test_the_comment_posts_the_plan_or_says_why_there_is_none(tmp_path):
    comment = step(ROOT / "examples" / "pr-preview.yml", "comment", "Post the plan")
    (tmp_path / "plan.md").write_text("### WhatsApp Local Storage plan: stack `prod`\n")
    env = dict(PR="42", PLAN_RESULT="success", RUN_URL="https://example.invalid/run", GH_TOKEN="x", GH_REPO="o/r")
    done, _ = run_step(comment["run"], tmp_path, tmp_path, **env)
    assert done.returncode == 0, done.stderr
    body = (tmp_path / "comment.md").read_text()
    assert body.startswith("### WhatsApp Local Storage plan: stack `prod`")
    assert "`pulumi preview` of this pull request's code is not run here" in body
    assert (tmp_path / "calls.log").read_text() == "gh pr comment 42 --edit-last --body-file comment.md\n"
    (tmp_path / "plan.md").unlink()
    done, _ = run_step(comment["run"], tmp_path, tmp_path, **{**env, "PLAN_RESULT": "failure"})
    assert done.returncode == 0, done.stderr
    assert "ended with **failure** before it wrote a plan" in (tmp_path / "comment.md").read_text()


def test_the_drift_issue_and_the_plan_comment_stay_under_githubs_limit(tmp_path: Path) -> None:
    """GitHub refuses a body over 65,536 characters: the CLI caps its Markdown at 60,000 bytes, and
    what the workflows add around it (the refresh log, the link to the full plan) must fit in the rest."""
    limit = 65_536
    capped = ("| `1` | " + "x" * 90 + " |\n") * (60_000 // 100)
    (tmp_path / "drift.md").write_text(capped)
    (tmp_path / "refresh.txt").write_text(("<&> " * 500 + "\n") * 200)  # escaped, each line grows fivefold
    issue = step(ROOT / "examples" / "nightly-drift.yml", "drift", "Open or update the drift issue")
    done, _ = run_step(issue["run"], tmp_path, tmp_path, REFRESH_EXIT="0", DRIFT_EXIT="7", ALERT_LABEL="drift",
                       RUN_URL="https://example.invalid/run", GH_TOKEN="x", GH_REPO="o/r")
    assert done.returncode == 1 and "drift found" in done.stderr  # the job fails on drift, after the issue
    body = (tmp_path / "issue.md").read_text()
    assert capped in body and "&lt;&amp;&gt;" in body and len(body) < limit
    (tmp_path / "plan.md").write_text(capped)
    comment = step(ROOT / "examples" / "pr-preview.yml", "comment", "Post the plan")
    done, _ = run_step(comment["run"], tmp_path, tmp_path, PR="42", PLAN_RESULT="success",
                       FULL_PLAN_URL="https://example.invalid/artifact", RUN_URL="https://example.invalid/run",
                       GH_TOKEN="x", GH_REPO="o/r")
    body = (tmp_path / "comment.md").read_text()
    assert done.returncode == 0 and len(body) < limit
    assert "[plan-full.md](https://example.invalid/artifact)" in body


def test_the_plan_step_fails_loudly_without_a_token(tmp_path):
    """An environment-only secret that the job cannot see is an empty string: say so, do not plan."""
    workspace = tmp_path / "workspace"
    (workspace / "base").mkdir(parents=True)
    plan = step(ROOT / "examples" / "pr-preview.yml", "plan", "python -m provider plan")
    done, outputs = run_step(plan["run"], workspace / "base", tmp_path, WHATSAPP_ACCESS_TOKEN="")
    assert outputs == {"exit": "1"} and "whatsapp-read environment" in done.stderr
    assert not (tmp_path / "calls.log").exists(), "nothing ran"


def _deployed(tmp_path: Path) -> Path:
    """The local stack's state as `pulumi stack export` prints it: 922 and 923 converged as declared."""
    from tests.cli.support import state_export

    path = tmp_path / "exported.json"
    path.write_text(json.dumps(state_export({
        "106540352242922": {"declared_region": "DEFAULT", "region": "DEFAULT", "storage_status": "DEFAULT",
                            "registered": True},
        "106540352242923": {"declared_region": "BR", "region": "BR", "storage_status": "IN_COUNTRY_STORAGE_ENABLED",
                            "registered": True}}, stack="local")))
    return path


def test_the_nightly_drift_step_reads_once_and_records_exit_7(tmp_path, emulator):
    project = project_copy(tmp_path / "repo", emulator.url)
    for name in ("provider", ".venv"):
        (project / name).symlink_to(ROOT / name)
    emulator.patch("106540352242923", settings={"storage_configuration": {
        "status": "IN_COUNTRY_STORAGE_ENABLED", "data_localization_region": "IN"}})
    drift = step(ROOT / "examples" / "nightly-drift.yml", "drift", "python -m provider drift")
    done, outputs = run_step(drift["run"], project, tmp_path, exported=str(_deployed(tmp_path)),
                             WHATSAPP_ACCESS_TOKEN=emulator.token)
    assert done.returncode == 0, done.stdout + done.stderr
    assert outputs == {"exit": "7"}
    report = (project / "drift.md").read_text()
    assert "| `106540352242923` | acme-brasil | DRIFT | IN, registered | BR, registered |" in report
    # 924 is declared IN and not in state yet: pending, listed with when it can go, no drift issue
    assert "| `106540352242924` | acme-india | pending |" in report and "now: at the next deploy" in report
    assert (project / "drift-full.md").exists()
    assert (tmp_path / "calls.log").read_text() == "pulumi stack export --stack local --non-interactive\n"


def test_the_nightly_drift_step_fails_without_state_instead_of_guessing(tmp_path, emulator):
    project = project_copy(tmp_path / "repo", emulator.url)
    drift = step(ROOT / "examples" / "nightly-drift.yml", "drift", "python -m provider drift")
    done, outputs = run_step(drift["run"], project, tmp_path, WHATSAPP_ACCESS_TOKEN=emulator.token)
    assert outputs == {"exit": "1"} and "pulumi stack export failed" in done.stderr
    assert not (project / "drift.md").exists(), "no drift check without state"


SLACK = timedelta(minutes=60)  # for GitHub's late scheduled starts and the cutovers themselves


def example_windows() -> tuple[str, list[str]]:
    """The change windows of the example production stack, the stack's and every number's own."""
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.example-production.yaml").read_text())["config"]
    found = list(config.get(STACK_WINDOWS) or [])
    for entry in (config.get("whatsapp-local-storage:phoneNumbers") or {}).values():
        found += entry.get("cutoverWindows") or []
    return "stacks/Pulumi.example-production.yaml", found


def firings(entry: dict[str, str], start: datetime, weeks: int) -> list[datetime]:
    """When GitHub starts a `schedule` entry with a minute, an hour and a weekday, in its
    `timezone` (UTC without one): a skipped local time runs at the clock change, as GitHub documents."""
    minute, hour, day, month, weekday = entry["cron"].split()
    assert (day, month) == ("*", "*") and minute.isdigit() and hour.isdigit() and weekday.isdigit(), entry
    tz = zones.zone(entry.get("timezone", "UTC"))
    first = start.date() + timedelta(days=(int(weekday) - 1 - start.weekday()) % 7)  # cron: 0 is Sunday
    return [resolve(datetime.combine(first + timedelta(weeks=week), time(int(hour), int(minute))), tz)
            for week in range(weeks)]


def test_every_window_of_the_example_stack_has_a_scheduled_run_inside_it_all_year() -> None:
    source, texts = example_windows()
    windows = parse_windows(texts, today=date(2026, 1, 1))
    assert windows, f"{source} declares windows"
    schedule = load(ROOT / "examples" / "deploy-on-merge.yml")["on"]["schedule"]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a year: both clock changes of every zone
    for window in windows:
        def inside(entry: dict[str, str]) -> bool:
            for fire in firings(entry, start, weeks=53):
                where = state([window], fire)
                if where.current is None or where.current.closes - fire < SLACK:
                    return False
            return True

        assert any(inside(entry) for entry in schedule), f"no scheduled run inside {window} ({source})"
    for entry in schedule:  # and no run outside every window: it would only stop at the plan
        assert all(state(windows, fire).inside for fire in firings(entry, start, weeks=53)), entry


def test_the_deploy_runs_in_the_change_window_and_merging_alone_deploys_nothing() -> None:
    path = ROOT / "examples" / "deploy-on-merge.yml"
    workflow = load(path)
    assert events(workflow) == {"schedule", "workflow_dispatch"}, "merge any time: no push trigger"
    header = path.read_text().split("\nname:")[0]
    assert all(str(window) in header for window in parse_windows(example_windows()[1], today=date(2026, 1, 1)) or ())
    job = workflow["jobs"]["up"]
    deploy = step(path, "up", "Deploy what may go now")
    script = commands(deploy["run"])
    ready = next(i for i, line in enumerate(script) if "python -m provider plan" in line)
    up = next(i for i, line in enumerate(script) if line.startswith("pulumi up"))
    assert "--ready-targets" in script[ready] and ready < up, "only what may go now is deployed"
    assert '"${targets[@]}"' in script[up] and "if" not in deploy and "continue-on-error" not in deploy
    assert not any("pulumi up" in s.get("run", "") for s in steps(job) if s.get("name") != deploy["name"])


def test_a_manual_dispatch_runs_pulumi_up_from_main_only():
    workflow = load(ROOT / "examples" / "deploy-on-merge.yml")
    assert workflow["jobs"]["up"]["if"] == "github.ref == 'refs/heads/main'"
    refuse = workflow["jobs"]["refuse-other-branches"]
    assert refuse["if"] == "github.ref != 'refs/heads/main'"
    assert "exit 1" in steps(refuse)[0]["run"] and not gets_meta_token(refuse) and "environment" not in refuse
    assert not any(re.search(r"^\s*pulumi\b", s.get("run", ""), re.M) for s in steps(refuse)), "it runs nothing"


# -- issue 29: the Pulumi token leaves no file behind, pulumi's output runs no command, own ref guards --

PULUMI_RUN = re.compile(r"(^|[;&|(]|\bif|\bthen|\bdo)\s*pulumi\s+[a-z]")
HOME_SETUP = ['PULUMI_HOME="$(mktemp -d "$RUNNER_TEMP/pulumi-home.XXXXXX")"', "export PULUMI_HOME",
              "trap 'rm -rf \"$PULUMI_HOME\"' EXIT"]


def commands(script: str) -> list[str]:
    """The script's command lines: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def pulumi_steps() -> list[tuple[str, dict]]:
    return [(path.name, each) for path in WORKFLOWS for job in load(path)["jobs"].values()
            for each in steps(job) if any(PULUMI_RUN.search(line) for line in commands(each.get("run", "")))]


def test_every_step_that_runs_pulumi_gives_it_a_home_of_its_own_removed_on_exit():
    """`pulumi stack export` with PULUMI_ACCESS_TOKEN writes ~/.pulumi/credentials.json, readable by
    every later step of the job: each step creates its own PULUMI_HOME and removes it in an EXIT trap,
    before the first pulumi command."""
    found = pulumi_steps()
    assert len(found) == 5, [(w, s.get("name")) for w, s in found]
    for workflow, each in found:
        lines = commands(each["run"])
        first_pulumi = next(i for i, line in enumerate(lines) if PULUMI_RUN.search(line))
        places = [lines.index(line) if line in lines else -1 for line in HOME_SETUP]
        assert -1 not in places and places == sorted(places) and places[-1] < first_pulumi, (workflow, each["name"])


def test_pulumis_output_is_printed_between_stop_commands_and_a_random_resume_token():
    """What pulumi prints (the stack's names, Meta's messages) is not escaped by this project: the
    runner reads no workflow command in it (`##[` or `::`) until the step's own random token."""
    for workflow, each in pulumi_steps():
        lines = commands(each["run"])
        assert 'stop="$(od -An -N16 -tx1 /dev/urandom | tr -d \' \\n\')"' in lines, (workflow, each["name"])
        stopped = False
        for line in lines:
            if line == 'echo "::stop-commands::$stop"':
                stopped = True
            elif line == 'echo "::$stop::"':
                stopped = False
            elif PULUMI_RUN.search(line) and not ("2>&1" in line and "> " in line):  # else it all goes to a file
                assert stopped, (workflow, each["name"], line)
            elif line.startswith("cat refresh.txt"):
                assert stopped, (workflow, each["name"], line)
            elif line.startswith('echo "::error::'):
                assert not stopped, "the step's own annotations must work"
        assert not stopped, (workflow, each["name"], "never resumed")


def test_the_nightly_and_preview_jobs_guard_on_the_ref_themselves():
    assert load(ROOT / "examples" / "nightly-drift.yml")["jobs"]["drift"]["if"] == "github.ref == 'refs/heads/main'"
    plan = load(ROOT / "examples" / "pr-preview.yml")["jobs"]["plan"]
    assert "github.ref == 'refs/heads/main'" in plan["if"]


def _pulumi_that_logs_in(tmp_path: Path) -> Path:
    """A `pulumi` that writes its credentials file where the real one does, and prints forged commands."""
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    fake = fake_bin / "pulumi"
    fake.write_text('#!/bin/sh\nhome="${PULUMI_HOME:-$HOME/.pulumi}"\nmkdir -p "$home"\n'
                    'echo "{\\"accessToken\\": \\"pul-secret\\"}" > "$home/credentials.json"\n'
                    'echo "::warning::FORGED by a stack name"\necho "name ##[error]FORGED mid-line" >&2\n'
                    '[ "$1 $2" = "stack export" ] && exit 255\nexit 0\n')
    fake.chmod(0o755)
    return fake_bin


@pytest.mark.parametrize("workflow, job, name", [
    ("pr-preview.yml", "plan", "python -m provider plan"),
    ("nightly-drift.yml", "drift", "pulumi refresh"),
    ("deploy-on-merge.yml", "up", "Deploy what may go now"),
    ("deploy-on-merge.yml", "up", "Nothing left to converge"),
])
def test_a_pulumi_step_leaves_no_credentials_and_runs_no_forged_command(tmp_path, workflow, job, name):
    script = step(ROOT / "examples" / workflow, job, name)["run"]
    home, runner_temp, work = tmp_path / "home", tmp_path / "runner-temp", tmp_path / "work"
    for directory in (home, runner_temp, work / "base"):
        directory.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "PULUMI_"))}
    env.update(PATH=os.pathsep.join([str(_pulumi_that_logs_in(tmp_path)), str(BIN), "/usr/bin", "/bin"]),
               HOME=str(home), RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(tmp_path / "out"), STACK="prod",
               WHATSAPP_ACCESS_TOKEN="x", PULUMI_ACCESS_TOKEN="pul-secret")
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=work / "base",
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                          check=False)
    log = done.stdout
    assert "FORGED" in log, log
    assert not list(tmp_path.rglob("credentials.json")), "a credentials file outlived the step"
    stopped_by: str | None = None
    for line in log.splitlines():
        if stopped_by is None and line.startswith("::stop-commands::"):
            stopped_by = line.removeprefix("::stop-commands::")
            assert re.fullmatch(r"[0-9a-f]{32}", stopped_by)
        elif stopped_by is not None and line == f"::{stopped_by}::":
            stopped_by = None
        elif "FORGED" in line:
            assert stopped_by is not None, f"a forged command outside stop-commands: {line}"
    assert stopped_by is None, "commands were never resumed"


def test_the_deploy_runs_the_policy_pack_with_a_committed_config_whose_regions_are_the_example_stacks() -> None:
    """Without a config the mandatory whatsapp-allowed-regions policy refuses everything: the deploy
    passes a committed one, and it must say what the stack says."""
    script = step(ROOT / "examples" / "deploy-on-merge.yml", "up", "Deploy what may go now")["run"]
    config_path = re.search(r"--policy-pack-config (\S+)", script)
    assert config_path and "--policy-pack policy " in script
    pack = json.loads((ROOT / config_path.group(1)).read_text())
    stack = yaml.safe_load((ROOT / "stacks" / "Pulumi.example-production.yaml").read_text())["config"]
    assert sorted(pack["whatsapp-allowed-regions"]["allowedRegions"]) == sorted(
        stack["whatsapp-local-storage:allowedRegions"])
    venv = step(ROOT / "examples" / "deploy-on-merge.yml", "up", "Build the policy pack")["run"]
    assert "policy/.venv" in venv and "policy/requirements.txt" in venv


def test_the_deploy_environment_holds_the_secrets_and_restricts_the_branch_without_reviewers() -> None:
    path = ROOT / "examples" / "deploy-on-merge.yml"
    job = load(path)["jobs"]["up"]
    assert job["environment"] == "production"
    header = path.read_text().split("\nname:")[0]
    assert "No required reviewers" in header and "deployment-branch rule (main only)" in header
    assert "WHATSAPP_DISABLE_ON_DELETE" not in yaml.safe_dump(job)
