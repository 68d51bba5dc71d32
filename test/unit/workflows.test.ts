// The CI workflow files, checked by a real linter (actionlint, built from Go modules), and the deploy
// workflow's hardening (issue 14): production's secrets only in the job of the `production` environment,
// every action pinned by commit, previews apart from production's concurrency group, least privilege.
// Each of those checks is also run on the workflow as it was before (a fixture), where it must fail.
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { recordOutcome } from "../../scripts/lib/reliability";

const ROOT = path.resolve(__dirname, "..", "..");
const DEPLOY = path.join(ROOT, ".github", "workflows", "deploy.yml");
const BEFORE = path.join(ROOT, "test", "fixtures", "workflows", "deploy-before-issue-14.yml");

type Concurrency = string | { group: string; "cancel-in-progress"?: boolean | string };
interface Step {
    readonly uses?: string;
    readonly with?: Record<string, unknown>;
}
interface Job {
    readonly environment?: string | { name: string };
    readonly permissions?: string | Record<string, string>;
    readonly concurrency?: Concurrency;
    readonly uses?: string;
    readonly steps?: Step[];
}
interface Workflow {
    readonly env?: Record<string, string>;
    readonly permissions?: string | Record<string, string>;
    readonly concurrency?: Concurrency;
    readonly jobs: Record<string, Job>;
}

function parse(file: string): { text: string; workflow: Workflow } {
    const text = fs.readFileSync(file, "utf8");
    return { text, workflow: load(text) as Workflow };
}

function environmentOf(job: Job): string | undefined {
    return typeof job.environment === "string" ? job.environment : job.environment?.name;
}

/** Where a value (keys too: `secrets: inherit`) mentions a secret, as paths like jobs.up.steps.4.env. */
function secretMentions(value: unknown, at: string): string[] {
    if (typeof value === "string") return /\bsecrets\s*[.[]/.test(value) ? [at] : [];
    if (typeof value !== "object" || value === null) return [];
    return Object.entries(value).flatMap(([key, inner]) => [
        ...(key === "secrets" ? [`${at}.${key}`] : []),
        ...secretMentions(inner, `${at}.${key}`),
    ]);
}

/** Every secret reference outside the jobs that run in the `production` environment. */
function secretsOutsideProduction(workflow: Workflow): string[] {
    const { jobs, ...top } = workflow;
    return [
        ...secretMentions(top, "(workflow)"),
        ...Object.entries(jobs).flatMap(([name, job]) =>
            environmentOf(job) === "production" ? [] : secretMentions(job, `jobs.${name}`),
        ),
    ];
}

/** Every `uses:` not pinned by a full commit SHA with its tag in a trailing comment (local actions aside). */
function unpinnedActions(workflow: Workflow, text: string): string[] {
    const used = Object.values(workflow.jobs).flatMap((job) => [
        ...(job.uses ? [job.uses] : []),
        ...(job.steps ?? []).flatMap((step) => (step.uses ? [step.uses] : [])),
    ]);
    const lines = text.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
    return [
        ...used.filter((uses) => !uses.startsWith("./") && !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(uses)),
        ...lines.filter((line) => !/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/.test(line)).map((line) => line.trim()),
    ];
}

/** The concurrency groups a job runs in: the workflow's (the whole run) and its own. */
function concurrencyGroups(workflow: Workflow, job: Job): string[] {
    const group = (c?: Concurrency) => (c === undefined ? [] : [typeof c === "string" ? c : c.group]);
    return [...group(workflow.concurrency), ...group(job.concurrency)];
}

/** Permissions granted to more than reading: the workflow's default must be none, each job's only reads. */
function broadPermissions(workflow: Workflow): string[] {
    const problems: string[] = [];
    const isEmpty = (p: Workflow["permissions"]) => typeof p === "object" && Object.keys(p).length === 0;
    if (!isEmpty(workflow.permissions)) problems.push(`(workflow): ${JSON.stringify(workflow.permissions)}`);
    for (const [name, job] of Object.entries(workflow.jobs)) {
        const p = job.permissions;
        if (typeof p !== "object") problems.push(`jobs.${name}: ${p === undefined ? "not declared" : p}`);
        else
            for (const [scope, level] of Object.entries(p))
                if (level !== "read" && level !== "none") problems.push(`jobs.${name}: ${scope}: ${level}`);
    }
    return problems;
}

describe("GitHub Actions workflows", function () {
    let actionlint: string;

    before(() => {
        actionlint = execFileSync("bash", [path.join(ROOT, "scripts", "toolchain", "actionlint.sh")], {
            encoding: "utf8",
        }).trim();
    });

    it("pass actionlint", () => {
        const result = spawnSync(actionlint, ["-color=false"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(result.status, 0, `actionlint found problems:\n${result.stdout}${result.stderr}`);
    });

    it("actionlint really reports a broken workflow (the check can fail)", () => {
        const broken = path.join(ROOT, ".state", "broken-workflow.yml");
        fs.mkdirSync(path.dirname(broken), { recursive: true });
        fs.writeFileSync(
            broken,
            "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n" +
                "      - run: echo ${{ secrets }}\n        uses: actions/checkout@v4\n",
        );
        try {
            const result = spawnSync(actionlint, ["-color=false", broken], { cwd: ROOT, encoding: "utf8" });
            assert.notEqual(result.status, 0);
        } finally {
            fs.rmSync(broken, { force: true });
        }
    });

    it("hold no secret values, only references to repository secrets", () => {
        const text = fs.readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8");
        for (const line of text.split("\n").filter((l) => /(TOKEN|PASSPHRASE|SECRET|WEBHOOK_URL)\s*:/.test(l))) {
            assert.match(
                line,
                /\$\{\{ (secrets|vars)\.[A-Z_]+ \}\}|\$\{\{ github\./,
                `a secret must come from secrets.*: ${line.trim()}`,
            );
        }
    });

    describe("deploy.yml keeps production's secrets from pull requests (issue 14)", () => {
        const now = parse(DEPLOY);
        const before = parse(BEFORE);
        let passed = 0;
        afterEach(function () {
            if (this.currentTest?.state === "passed") passed++;
        });
        // One row for the reliability report, only when every check here passed.
        after(function () {
            if (passed < (this.test?.parent?.tests.length ?? Infinity)) return;
            recordOutcome({
                area: "security",
                target: "ci",
                fault:
                    "the deploy workflow read as a pull request could use it: secrets outside the production job, " +
                    "actions by tag, shared concurrency, permissions",
                expected:
                    "secrets only in the `production` environment's job; every action by commit SHA; previews in " +
                    "their own group; read-only jobs",
                observed: "none outside it; all pinned; groups apart; read-only (each check fails on the old workflow)",
                sent: 0,
                lost: 0,
            });
        });

        it("no secret is referenced outside the job of the `production` environment", () => {
            assert.deepEqual(secretsOutsideProduction(now.workflow), []);
            assert.notDeepEqual(secretsOutsideProduction(before.workflow), [], "the check fails on the old workflow");
        });

        it("the preview job holds no credential at all: no environment, no Pulumi or AWS variable", () => {
            // What the job sees: its own settings and the workflow's env.
            const seen = (w: Workflow) => JSON.stringify({ env: w.env, job: w.jobs.preview });
            const credential = /PULUMI_ACCESS_TOKEN|PULUMI_CONFIG_PASSPHRASE|AWS_/;
            assert.equal(environmentOf(now.workflow.jobs.preview), undefined);
            assert.doesNotMatch(seen(now.workflow), credential);
            assert.match(seen(before.workflow), credential, "the check fails on the old workflow");
        });

        it("every `uses:` is pinned by a 40-hex commit SHA, its tag in a trailing comment", () => {
            assert.deepEqual(unpinnedActions(now.workflow, now.text), []);
            assert.ok(unpinnedActions(before.workflow, before.text).length >= 5, "the old tags fail the check");
        });

        it("checkouts leave no token in .git/config", () => {
            const checkouts = Object.values(now.workflow.jobs).flatMap((job) =>
                (job.steps ?? []).filter((step) => step.uses?.startsWith("actions/checkout@")),
            );
            assert.ok(checkouts.length >= 2);
            for (const step of checkouts) assert.equal(step.with?.["persist-credentials"], false);
        });

        it("previews and the production update run in different concurrency groups", () => {
            const groups = (w: Workflow, name: string) => concurrencyGroups(w, w.jobs[name]);
            const shared = (w: Workflow) => groups(w, "preview").filter((g) => groups(w, "up").includes(g));
            assert.deepEqual(shared(now.workflow), []);
            assert.match(groups(now.workflow, "preview").join(), /github\.event\.pull_request\.number/);
            const up = now.workflow.jobs.up.concurrency;
            assert.ok(typeof up === "object" && up["cancel-in-progress"] === false, "an update is never cancelled");
            assert.deepEqual(shared(before.workflow), ["pulumi-production"], "the check fails on the old workflow");
        });

        it("the up job runs in the `production` environment (its protection rules and secrets)", () => {
            assert.equal(environmentOf(now.workflow.jobs.up), "production");
        });

        it("permissions: none by default, each job only reads", () => {
            assert.deepEqual(broadPermissions(now.workflow), []);
            assert.notDeepEqual(broadPermissions(before.workflow), [], "the check fails on the old workflow");
        });
    });
});
