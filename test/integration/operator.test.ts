// The operator workflow on the local target: preview before switching, outputs, the history
// table, one-command deploy, rollback (as a switch, and with a redeploy), and the stack lock.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { summary } from "../../scripts/ci/nginx-diff-summary";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";

describe("operator workflow: preview, history, deploy, rollback, lock", function () {
    let stack: LocalStack;
    const quiet = { onOutput: () => undefined };

    /** Runs `npm run <script> -- args` as an operator would (scripts/ops/run.sh). */
    function npmRun(script: string, ...args: string[]): { status: number; output: string } {
        const result = spawnSync(
            "bash",
            [path.join(stack.dir, "project", "scripts", "ops", "run.sh"), script, "--stack", "test", ...args],
            {
                env: { ...process.env, ...stack.env },
                encoding: "utf8",
                timeout: 180_000,
            },
        );
        return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
    }

    async function live(): Promise<{ color: string; version: string }> {
        const res = await getJson<{ color: string; version: string }>(`${stack.publicUrl}/`);
        return { color: res.body.color, version: res.body.version };
    }

    before(async () => {
        // Reload mode, where a switch changes nginx config lines (in no-reload mode it changes
        // only the LIVE_COLOR input, covered by local-target.test.ts).
        stack = await createLocalStack({ switchMode: "reload" }, ["scripts/ops"]);
        assert.equal((await stack.stack.up({ ...quiet, message: "first deploy" })).summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    it("preview --diff for the other colour shows the nginx lines that change, and replaces nothing", async () => {
        await stack.stack.setConfig("activeColor", { value: "green" });
        const preview = await stack.stack.preview({ diff: true, onOutput: () => undefined });
        await stack.stack.setConfig("activeColor", { value: "blue" });
        const { update, create, replace, delete: deleted } = preview.changeSummary;
        assert.deepEqual(
            { update, create, replace, deleted },
            { update: 2, create: undefined, replace: undefined, deleted: undefined },
            "only the gate and the router change",
        );
        assert.match(preview.stdout, /-\s+proxy_pass http:\/\/pool_blue;\n\s+\+\s+proxy_pass http:\/\/pool_green;/);
        assert.match(preview.stdout, /-\s+set \$deploy_color blue;\n\s+\+\s+set \$deploy_color green;/);
        assert.doesNotMatch(preview.stdout, /(blue|green)-host-\d+\]/, "no pool host appears in the diff");
        assert.doesNotMatch(preview.stdout, /\((replace|create-replacement|delete-replaced|delete)\)/);

        // What the CI workflow puts in the pull request's job summary.
        const markdown = summary(preview.stdout);
        assert.match(markdown, /### Live pool: blue → green/);
        assert.match(markdown, /```diff\n/);
        assert.match(markdown, /^- proxy_pass http:\/\/pool_blue;$/m);
        assert.match(markdown, /^\+ proxy_pass http:\/\/pool_green;$/m);
        assert.doesNotMatch(markdown, /pool_blue\/;|location \/blue\//, "unchanged lines are left out");
    });

    it("outputs say what is live, what is standby, the hosts, the URL and when the last switch happened", async () => {
        const outputs = await stack.stack.outputs();
        assert.equal(outputs.activeColor.value, "blue");
        assert.equal(outputs.liveVersion.value, "1.0.0");
        assert.equal(outputs.standbyVersion.value, "1.0.0");
        assert.equal(outputs.publicUrl.value, stack.publicUrl);
        assert.equal(outputs.pools.value.green.hosts.length, 2);
        assert.match(outputs.lastSwitch.value, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ blue$/);
    });

    it("npm run deploy -- 1.1.0 deploys to the idle pool and switches in one update, with a message", async () => {
        const result = npmRun("deploy", "1.1.0");
        assert.equal(result.status, 0, result.output);
        assert.match(result.output, /Deployed 1\.1\.0: green is live, blue stays warm/);
        assert.deepEqual(await live(), { color: "green", version: "1.1.0" });
        const [latest] = await stack.stack.history(1);
        assert.equal(latest.message, "deploy 1.1.0 to green and switch from blue");
        assert.match((await stack.stack.outputs()).lastSwitch.value, / green$/);
    });

    it("npm run rollback switches back to the last different update without redeploying", async () => {
        const bluePid = (await stack.appStatus("blue", 1)).pid;
        const result = npmRun("rollback");
        assert.equal(result.status, 0, result.output);
        assert.match(
            result.output,
            new RegExp(
                "Plan: rollback to update 1: switch from green 1\\.1\\.0 to blue 1\\.0\\.0 " +
                    "\\(still deployed on blue, no redeploy\\)",
            ),
        );
        assert.match(result.output, /Rolled back in [\d.]+ s/);
        assert.deepEqual(await live(), { color: "blue", version: "1.0.0" });
        assert.equal((await stack.appStatus("blue", 1)).pid, bluePid, "blue was not redeployed");
        const [latest] = await stack.stack.history(1);
        assert.equal(
            latest.message,
            "rollback to update 1: switch from green 1.1.0 to blue 1.0.0 (still deployed on blue, no redeploy)",
            "the rollback is recorded with what it did",
        );
    });

    it("npm run history shows every update with its live colour and versions", async () => {
        const result = npmRun("history");
        assert.equal(result.status, 0, result.output);
        assert.match(
            result.output,
            /│ 1\s+│[^\n]*│ succeeded\s+│ blue 1\.0\.0\s+│ 1\.0\.0\s+│ 1\.0\.0\s+│ first deploy/,
        );
        assert.match(
            result.output,
            new RegExp(
                "│ 2\\s+│[^\\n]*│ succeeded\\s+│ green 1\\.1\\.0\\s+│ " +
                    "1\\.0\\.0\\s+│ 1\\.1\\.0\\s+│ deploy 1\\.1\\.0 to green",
            ),
        );
        assert.match(result.output, /│ 3\s+│[^\n]*│ blue 1\.0\.0/);
    });

    it("rolling back to a release redeployed since says so, and redeploys it only with --redeploy", async () => {
        assert.equal(npmRun("deploy", "1.2.0").status, 0); // update 4: green 1.2.0 live
        const refused = npmRun("rollback", "--to", "2"); // green 1.1.0: green now holds 1.2.0
        assert.equal(refused.status, 2, refused.output);
        assert.match(refused.output, /the green pool no longer holds 1\.1\.0 \(it runs 1\.2\.0 since a later update\)/);
        assert.deepEqual(await live(), { color: "green", version: "1.2.0" }, "nothing changed");

        const done = npmRun("rollback", "--to", "2", "--redeploy");
        assert.equal(done.status, 0, done.output);
        assert.deepEqual(
            await live(),
            { color: "blue", version: "1.1.0" },
            "1.1.0 was deployed to the idle blue pool, then switched to",
        );
    });

    /** A release directory whose app never becomes ready (its /health keeps answering 503). */
    function neverReadyRelease(): string {
        const dir = path.join(stack.dir, "never-ready");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(
            path.join(dir, "server.js"),
            `process.env.FAIL_HEALTH = "1";\n` +
                `require(${JSON.stringify(path.join(stack.dir, "project", "bin", "app", "server.js"))});\n`,
        );
        return dir;
    }

    /** Lock files the file backend holds for the stack right now. */
    function lockFiles(): string[] {
        const locks = path.join(stack.dir, "backend", ".pulumi", "locks");
        if (!fs.existsSync(locks)) return [];
        return fs.readdirSync(locks, { recursive: true, encoding: "utf8" }).filter((entry) => entry.endsWith(".json"));
    }

    it("a second pulumi up while one runs is refused by the stack lock", async () => {
        // A slow update: a green release that never becomes ready (the deploy waits out its budget).
        await stack.stack.setConfig("greenArtifact", { value: neverReadyRelease() });
        await stack.stack.setConfig("greenVersion", { value: "9.0.0" });
        const slow = stack.stack.up(quiet).then(
            () => "succeeded",
            () => "failed",
        );
        // Wait until the first update holds the lock (polling the backend, bounded).
        const deadline = Date.now() + 30_000;
        while (lockFiles().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(lockFiles().length, 1, "the running update holds the stack's lock");
        let second = "";
        await assert.rejects(stack.stack.up({ onOutput: (t) => (second += t) }), /locked/);
        assert.equal(await slow, "failed", "the first update ran to its own end (its release never became ready)");
        await stack.stack.setConfig("greenArtifact", { value: "bin/app" });
        await stack.stack.setConfig("greenVersion", { value: "1.2.0" });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        assert.deepEqual(await live(), { color: "blue", version: "1.1.0" });
        assert.deepEqual(lockFiles(), [], "no lock is left behind");
    });

    it("after a deploy that failed, the next deploy still goes to the idle pool", async () => {
        const failed = npmRun("deploy", "9.1.0", "--artifact", neverReadyRelease());
        assert.equal(failed.status, 1, failed.output);
        assert.match(failed.output, /the update failed and traffic stays on blue/);
        assert.deepEqual(await live(), { color: "blue", version: "1.1.0" });
        assert.equal(
            (await stack.stack.getConfig("activeColor")).value,
            "green",
            "the failed deploy's config is still pending",
        );

        const next = npmRun("deploy", "1.3.0", "--artifact", "bin/app");
        assert.equal(next.status, 0, next.output);
        assert.match(
            next.output,
            /the config asks for activeColor green, left by an update that did not succeed; blue is live/,
        );
        assert.match(next.output, /Deploying 1\.3\.0 to green \(idle\)/);
        assert.deepEqual(await live(), { color: "green", version: "1.3.0" });
    });

    it("npm run history shows failed updates as failed, with what stayed live", async () => {
        const result = npmRun("history");
        assert.equal(result.status, 0, result.output);
        const failedRows = result.output.split("\n").filter((line) => /│ failed: /.test(line));
        assert.equal(failedRows.length, 2, `the lock test's update and the failed deploy:\n${result.output}`);
        for (const row of failedRows) assert.match(row, /failed: blue 1\.1\.0 stayed live/);
        assert.match(
            result.output,
            /│ failed: blue 1\.1\.0 stayed live\s+│[^\n]*│ deploy 9\.1\.0 to green and switch from blue/,
        );
        assert.match(
            result.output,
            /│ succeeded\s+│ green 1\.3\.0\s+│[^\n]*│ deploy 1\.3\.0 to green and switch from blue/,
        );
    });

    it("update numbers stay put past ten updates (history pages by 10): --to N means the same update", async () => {
        for (const color of ["blue", "green"]) {
            await stack.stack.setConfig("activeColor", { value: color });
            assert.equal(
                (await stack.stack.up({ ...quiet, message: `switch to ${color}` })).summary.result,
                "succeeded",
            );
        }
        const result = npmRun("history");
        assert.equal(result.status, 0, result.output);
        const numbers = [...result.output.matchAll(/^│ (\d+)\s+│/gm)].map((m) => Number(m[1]));
        assert.deepEqual(
            numbers,
            Array.from({ length: 11 }, (_, i) => i + 1),
            `every update, numbered from the first:\n${result.output}`,
        );
        assert.match(result.output, /│ 1\s+│[^\n]*│ first deploy/);
        assert.match(result.output, /│ 11\s+│[^\n]*│ green 1\.3\.0[^\n]*│ switch to green/);
        const plan = npmRun("rollback", "--to", "10", "--dry-run");
        assert.equal(plan.status, 0, plan.output);
        assert.match(plan.output, /Plan: rollback to update 10: switch from green 1\.3\.0 to blue 1\.1\.0/);
    });
});
