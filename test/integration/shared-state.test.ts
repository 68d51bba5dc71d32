// One stack kept in PostgreSQL and operated from two clones of the project, as two operators
// would: each clone has its own directory and the same PULUMI_BACKEND_URL, stack name and
// passphrase. The stack's config file travels between them as git would carry it (committed,
// pulled): the test copies it. Both clones point stateDir at one directory, so they operate the
// same nginx and apps, as two operators' ssh stacks reach the same hosts.
import * as assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TEST_DRAIN_TOKEN, freePorts, getJson, runningFrom } from "../../scripts/lib/localStack";
import { PROGRAM_FILES, REPO_ROOT, pulumiBinDir } from "../../scripts/lib/pulumi";
import { localAppPort } from "../../components/targets/local/config";
import { leftovers } from "../../scripts/ops/recover";
import { type Postgres, startPostgres } from "../support/postgres";

const STACK = "shared";
/** How long the slow release takes to become ready: time to act while an update holds the lock. */
const SLOW_WARMUP_MS = 8000;

interface Run {
    readonly status: number;
    readonly stdout: string;
    readonly stderr: string;
}

describe("shared state in PostgreSQL: two clones operate one stack", function () {
    let pg: Postgres | undefined;
    let root: string;
    let stateDir: string;
    let ports: { base: number; publicPort: number; internalPort: number };
    let env: NodeJS.ProcessEnv;
    const clones: Record<"a" | "b", string> = { a: "", b: "" };
    /** Every pulumi the test starts in the background, stopped by pid in `after` if still running. */
    const started = new Set<ChildProcess>();
    const measured: string[] = [];

    /** A copy of the project, as a clone of the repository holds it (bin/ built, times kept). */
    function makeClone(name: "a" | "b"): string {
        const project = path.join(root, name, "project");
        for (const entry of [...PROGRAM_FILES, "scripts/ops"]) {
            fs.mkdirSync(path.dirname(path.join(project, entry)), { recursive: true });
            fs.cpSync(path.join(REPO_ROOT, entry), path.join(project, entry), {
                recursive: true,
                preserveTimestamps: true,
            });
        }
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(project, "node_modules"));
        // A release of the reference app that takes SLOW_WARMUP_MS to become ready, committed in the
        // repository (the same bytes in both clones, so the same release id).
        const slow = path.join(project, "releases", "slow");
        fs.cpSync(path.join(REPO_ROOT, "bin", "app"), slow, { recursive: true });
        fs.renameSync(path.join(slow, "server.js"), path.join(slow, "app.js"));
        fs.writeFileSync(
            path.join(slow, "server.js"),
            `process.env.WARMUP_MS = "${SLOW_WARMUP_MS}";\nrequire("./app.js");\n`,
        );
        return project;
    }

    /** Git's part: `from` commits and pushes Pulumi.shared.yaml, `to` pulls it. */
    function shareConfig(from: "a" | "b", to: "a" | "b"): void {
        fs.copyFileSync(path.join(clones[from], `Pulumi.${STACK}.yaml`), path.join(clones[to], `Pulumi.${STACK}.yaml`));
    }

    function pulumi(clone: "a" | "b", args: string[], input?: string): Run {
        const run = spawnSync("pulumi", [...args, "--stack", STACK, "--non-interactive"], {
            cwd: clones[clone],
            env,
            input,
            encoding: "utf8",
            timeout: 180_000,
            maxBuffer: 64 * 1024 * 1024,
        });
        return { status: run.status ?? -1, stdout: run.stdout ?? "", stderr: run.stderr ?? "" };
    }

    /** `pulumi up` in the background; `exited` resolves with its status and output. */
    function upInBackground(
        clone: "a" | "b",
        message: string,
    ): { child: ChildProcess; output: () => string; exited: Promise<{ status: number | null; at: number }> } {
        const child = spawn(
            "pulumi",
            ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK, "--message", message],
            { cwd: clones[clone], env, stdio: ["ignore", "pipe", "pipe"] },
        );
        started.add(child);
        let output = "";
        child.stdout?.on("data", (c: Buffer) => (output += c.toString("utf8")));
        child.stderr?.on("data", (c: Buffer) => (output += c.toString("utf8")));
        const exited = new Promise<{ status: number | null; at: number }>((resolve) =>
            child.on("close", (status) => {
                started.delete(child);
                resolve({ status, at: Date.now() });
            }),
        );
        return { child, output: () => output, exited };
    }

    function up(clone: "a" | "b", message: string): Run {
        return pulumi(clone, ["up", "--yes", "--skip-preview", "--message", message]);
    }

    /** `npm run <script> -- --stack shared …` in a clone (scripts/ops/run.sh, as npm runs it). */
    function npmRun(clone: "a" | "b", script: string, ...args: string[]): Promise<{ status: number; output: string }> {
        return new Promise((resolve) => {
            execFile(
                "bash",
                [path.join(clones[clone], "scripts", "ops", "run.sh"), script, "--stack", STACK, ...args],
                { cwd: clones[clone], env, encoding: "utf8", timeout: 180_000, maxBuffer: 64 * 1024 * 1024 },
                (err, stdout, stderr) =>
                    resolve({
                        status: err ? (typeof err.code === "number" ? err.code : -1) : 0,
                        output: `${stdout}${stderr}`,
                    }),
            );
        });
    }

    /** The stack's locks as the backend keeps them: rows of its table, each a JSON lock file. */
    function locks(): { key: string; pid: number; username: string; hostname: string }[] {
        const rows = (pg as Postgres)
            .query(
                "SELECT key, convert_from(decode(data->>'data', 'base64'), 'UTF8') FROM pulumi_state " +
                    "WHERE key LIKE '%/.pulumi/locks/%' ORDER BY key",
            )
            .split("\n")
            .filter(Boolean);
        return rows.map((row) => {
            const cut = row.indexOf("|");
            return { key: row.slice(0, cut), ...JSON.parse(row.slice(cut + 1)) };
        });
    }

    async function served(): Promise<{ header: string; color: string; version: string }> {
        const res = await getJson<{ color: string; version: string }>(`http://127.0.0.1:${ports.publicPort}/`);
        assert.equal(res.status, 200, `the public listener answers: ${JSON.stringify(res.body)}`);
        return { header: String(res.headers["x-deploy-color"]), color: res.body.color, version: res.body.version };
    }

    async function app(color: "blue" | "green"): Promise<{ pid: number; version: string }> {
        return (
            await getJson<{ pid: number; version: string }>(
                `http://127.0.0.1:${localAppPort(ports.base, color, 1)}/status`,
            )
        ).body;
    }

    function history(
        clone: "a" | "b",
    ): { message: string; result: string; config: Record<string, { value: string }> }[] {
        const run = pulumi(clone, ["stack", "history", "--json"]);
        assert.equal(run.status, 0, run.stderr);
        return JSON.parse(run.stdout);
    }

    before(async () => {
        const t0 = Date.now();
        pg = await startPostgres();
        measured.push(`PostgreSQL ready in ${Date.now() - t0} ms`);
        root = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-shared-"));
        // As root the apps and nginx workers run as users of their own: they pass through to stateDir.
        fs.chmodSync(root, 0o711);
        stateDir = path.join(root, "state");
        ports = await freePorts(2);
        clones.a = makeClone("a");
        clones.b = makeClone("b");
        const { PULUMI_CONFIG_PASSPHRASE_FILE: _file, ...inherited } = process.env;
        env = {
            ...inherited,
            PATH: `${pulumiBinDir()}:${process.env.PATH ?? ""}`,
            PULUMI_BACKEND_URL: pg.url,
            // The team's passphrase, the same in every clone (a secret store would hand it out).
            PULUMI_CONFIG_PASSPHRASE: "team passphrase for the shared stack",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
        // Clone A creates the stack; its config file (encryption salt included) goes to git.
        const init = spawnSync("pulumi", ["stack", "init", STACK, "--secrets-provider", "passphrase"], {
            cwd: clones.a,
            env,
            encoding: "utf8",
        });
        assert.equal(init.status, 0, init.stderr);
        const settings = {
            activeColor: "blue",
            publicPort: String(ports.publicPort),
            internalPort: String(ports.internalPort),
            appBasePort: String(ports.base),
            // Absolute: a relative stateDir is each clone's own (resolved against the project).
            stateDir,
            gateTimeoutSeconds: "10",
            healthIntervalMs: "100",
            drainTimeoutSeconds: "10",
        };
        const set = pulumi("a", [
            "config",
            "set-all",
            ...Object.entries(settings).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`]),
        ]);
        assert.equal(set.status, 0, set.stderr);
        const secret = pulumi("a", ["config", "set", "--secret", "drainToken"], TEST_DRAIN_TOKEN);
        assert.equal(secret.status, 0, secret.stderr);
        shareConfig("a", "b");
    });

    after(async () => {
        for (const child of started) {
            try {
                if (child.pid) process.kill(child.pid, "SIGKILL");
            } catch {
                /* it ended meanwhile */
            }
        }
        let destroyFailed: string | undefined;
        if (pg && clones.a) {
            // A failed test may have left its own killed update's lock: nothing else runs now.
            pulumi("a", ["cancel", "--yes"]);
            const destroy = pulumi("a", ["destroy", "--yes", "--skip-preview"]);
            if (destroy.status !== 0) destroyFailed = destroy.stderr;
        }
        // Whatever a failed destroy or a killed update left: nginx and apps by their pid files,
        // Pulumi's own processes by their working directory.
        const left = stateDir ? runningFrom(stateDir) : [];
        const pulumiLeft = [clones.a, clones.b].filter(Boolean).flatMap((dir) => leftovers(dir));
        for (const pid of [...left, ...pulumiLeft.map((p) => p.pid)]) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* gone meanwhile */
            }
        }
        await pg?.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
        if (measured.length) console.log(`      measured: ${measured.join("; ")}`);
        if (destroyFailed) throw new Error(`pulumi destroy failed: ${destroyFailed}`);
        if (left.length > 0)
            throw new Error(`pulumi destroy left ${left.length} process(es) running (pids ${left.join(", ")})`);
    });

    it("clone A's first pulumi up puts blue live; clone B reads the outputs and history from PostgreSQL", async () => {
        const first = up("a", "first deploy from clone A");
        assert.equal(first.status, 0, first.stderr);
        assert.equal(
            (pg as Postgres).query("SELECT to_regclass('pulumi_state') IS NOT NULL"),
            "t\n",
            "the backend created its table",
        );
        assert.match(
            (pg as Postgres).query("SELECT key FROM pulumi_state WHERE key LIKE '%/.pulumi/stacks/%' ORDER BY key"),
            /^pulumi_state\/\.pulumi\/stacks\/bluegreen\/shared\.json$/m,
            "the checkpoint is a row, its key prefixed with the database's name (the URL's path)",
        );
        assert.deepEqual(await served(), { header: "blue", color: "blue", version: "1.0.0" });

        const outputs = pulumi("b", ["stack", "output", "--json"]);
        assert.equal(outputs.status, 0, outputs.stderr);
        const parsed = JSON.parse(outputs.stdout);
        assert.equal(parsed.activeColor, "blue");
        assert.equal(parsed.publicUrl, `http://127.0.0.1:${ports.publicPort}`);
        const seen = history("b");
        assert.equal(seen.length, 1);
        assert.equal(seen[0].message, "first deploy from clone A");
        assert.equal(seen[0].result, "succeeded");
        assert.equal(seen[0].config["bluegreen:activeColor"].value, "blue");
    });

    it("clone B switches to green with the config it pulled; no pool is redeployed; clone A sees it", async () => {
        const before = { blue: (await app("blue")).pid, green: (await app("green")).pid };
        assert.equal(pulumi("b", ["config", "set", "activeColor", "green"]).status, 0);
        const switched = up("b", "switch to green from clone B");
        assert.equal(switched.status, 0, switched.stderr);
        assert.deepEqual(await served(), { header: "green", color: "green", version: "1.0.0" });
        assert.deepEqual(
            { blue: (await app("blue")).pid, green: (await app("green")).pid },
            before,
            "both pools kept their processes (the other clone's artifact path changed no release)",
        );
        shareConfig("b", "a");
        const output = pulumi("a", ["stack", "output", "activeColor"]);
        assert.equal(output.stdout.trim(), "green");
        assert.deepEqual(
            history("a").map((u) => u.message),
            ["switch to green from clone B", "first deploy from clone A"],
        );
    });

    it("a second pulumi up is refused by the lock while the other clone's runs, which still succeeds", async () => {
        // Clone A deploys the slow release to the idle pool and switches to it, in one update.
        const set = pulumi("a", [
            "config",
            "set-all",
            "--plaintext",
            "blueVersion=1.1.0",
            "--plaintext",
            "blueArtifact=releases/slow",
            "--plaintext",
            "activeColor=blue",
        ]);
        assert.equal(set.status, 0, set.stderr);
        shareConfig("a", "b"); // committed before running, as the team does
        const since = Date.now();
        const first = upInBackground("a", "deploy 1.1.0 to blue from clone A");
        let exitedEarly: { status: number | null; at: number } | undefined;
        void first.exited.then((e) => (exitedEarly = e));
        while (locks().length === 0 && !exitedEarly && Date.now() - since < 60_000)
            await new Promise((r) => setTimeout(r, 50));
        const held = locks();
        assert.equal(held.length, 1, `clone A's update holds the lock (it exited: ${JSON.stringify(exitedEarly)})`);
        assert.equal(held[0].pid, first.child.pid, "the lock names clone A's pulumi");
        const lockedAfter = Date.now() - since;

        const asked = Date.now();
        const second = up("b", "a second update from clone B");
        const refusedAfter = Date.now() - asked;
        const refusedAt = Date.now();
        assert.equal(second.status, 1, `clone B's up was refused:\n${second.stdout}${second.stderr}`);
        assert.ok(
            second.stderr.includes(
                "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end " +
                    "or delete the lock file with `pulumi cancel`.",
            ),
            second.stderr,
        );
        assert.match(
            second.stderr,
            new RegExp(
                `postgres://\\*{4}:\\*{4}@127\\.0\\.0\\.1:${(pg as Postgres).port}/pulumi_state/\\.pulumi/locks/` +
                    `organization/bluegreen/shared/[0-9a-f-]+\\.json\\?sslmode=disable: ` +
                    `created by ${held[0].username}@${os.hostname()} \\(pid ${first.child.pid}\\) at \\S+`,
            ),
            "the refusal names the lock, without the credentials, and whose update holds it",
        );
        assert.equal(exitedEarly, undefined, "clone A's update still ran when clone B's was refused");

        // The operator scripts name the holder and say that nothing changed.
        const rollbackAsked = Date.now();
        const rollback = await npmRun("b", "rollback");
        const rollbackRefusedAt = Date.now();
        assert.equal(rollback.status, 1, rollback.output);
        assert.match(rollback.output, /rollback: refused by the stack's lock before anything changed/);
        assert.match(
            rollback.output,
            new RegExp(`rollback: the stack is locked by \\S+@\\S+ \\(pid ${first.child.pid}, since \\S+\\)`),
        );
        assert.equal(exitedEarly, undefined, "clone A's update still ran when the rollback was refused");

        const done = await first.exited;
        assert.equal(done.status, 0, `clone A's update succeeded:\n${first.output()}`);
        assert.ok(done.at > refusedAt && done.at > rollbackRefusedAt);
        shareConfig("a", "b"); // B's refused rollback left its keys in B's file: B pulls again
        assert.deepEqual(await served(), { header: "blue", color: "blue", version: "1.1.0" });
        assert.deepEqual(locks(), [], "no lock is left");
        const recorded = history("b");
        assert.equal(recorded.length, 3, "the refused updates are not in the history");
        assert.equal(recorded[0].message, "deploy 1.1.0 to blue from clone A");
        assert.equal(recorded[0].result, "succeeded");
        measured.push(
            `lock held ${lockedAfter} ms after clone A's up started; clone B's up refused in ${refusedAfter} ms, ` +
                `its npm run rollback in ${rollbackRefusedAt - rollbackAsked} ms; ` +
                `clone A's update took ${done.at - since} ms`,
        );
    });

    it("npm run history and npm run rollback work from either clone", async () => {
        const [fromA, fromB] = await Promise.all([npmRun("a", "history"), npmRun("b", "history")]);
        assert.equal(fromA.status, 0, fromA.output);
        assert.equal(fromB.output, fromA.output, "both clones print the same history");
        const row = (n: number, live: string, blue: string, green: string, message: string) =>
            new RegExp(`│ ${n}\\s+│[^\\n]*│ succeeded\\s+│ ${live}\\s+│ ${blue}\\s+│ ${green}\\s+│ ${message}`);
        assert.match(fromA.output, row(1, "blue 1.0.0", "1.0.0", "1.0.0", "first deploy from clone A"));
        assert.match(fromA.output, row(2, "green 1.0.0", "1.0.0", "1.0.0", "switch to green from clone B"));
        assert.match(fromA.output, row(3, "blue 1.1.0", "1.1.0", "1.0.0", "deploy 1.1.0 to blue from clone A"));

        const back = await npmRun("b", "rollback");
        assert.equal(back.status, 0, back.output);
        assert.ok(
            back.output.includes(
                "Plan: rollback to update 2: switch from blue 1.1.0 to green 1.0.0 " +
                    "(still deployed on green, no redeploy)",
            ),
            back.output,
        );
        assert.deepEqual(await served(), { header: "green", color: "green", version: "1.0.0" });

        // Clone A has not pulled clone B's config: a plain pulumi up there would undo the rollback.
        const stale = pulumi("a", ["preview"]);
        assert.equal(stale.status, 0, stale.stderr);
        assert.match(stale.stdout, /Plan: traffic green \(1\.0\.0\) -> blue \(1\.1\.0\)/);
        // npm run rollback plans from the stack's history, not from the clone's config file.
        const again = await npmRun("a", "rollback");
        assert.equal(again.status, 0, again.output);
        assert.ok(
            again.output.includes(
                "Plan: rollback to update 3: switch from green 1.0.0 to blue 1.1.0 " +
                    "(still deployed on blue, no redeploy)",
            ),
            again.output,
        );
        assert.deepEqual(await served(), { header: "blue", color: "blue", version: "1.1.0" });
        assert.deepEqual(
            history("b")
                .slice(0, 2)
                .map((u) => `${u.result}: ${u.message}`),
            [
                "succeeded: rollback to update 3: switch from green 1.0.0 to blue 1.1.0 " +
                    "(still deployed on blue, no redeploy)",
                "succeeded: rollback to update 2: switch from blue 1.1.0 to green 1.0.0 " +
                    "(still deployed on green, no redeploy)",
            ],
        );
        shareConfig("a", "b");
    });

    it("a SIGKILLed pulumi up leaves a readable state and its lock; recover --cancel clears it", async () => {
        const set = pulumi("b", [
            "config",
            "set-all",
            "--plaintext",
            "greenVersion=1.2.0",
            "--plaintext",
            "greenArtifact=releases/slow",
        ]);
        assert.equal(set.status, 0, set.stderr);
        shareConfig("b", "a");
        const doomed = upInBackground("b", "deploy 1.2.0 to green from clone B, killed");
        const since = Date.now();
        while (!/Deploying 1\.2\.0/.test(doomed.output()) && Date.now() - since < 60_000)
            await new Promise((r) => setTimeout(r, 20));
        assert.match(doomed.output(), /Deploying 1\.2\.0/, "the update reached the idle pool's deploy");
        const killedPid = doomed.child.pid as number;
        process.kill(killedPid, "SIGKILL"); // the CLI alone, as a crash would
        await doomed.exited;
        assert.deepEqual(
            locks().map((l) => l.pid),
            [killedPid],
            "the killed update's lock stays",
        );

        // The other clone reads the state: whole, with the interrupted operation recorded.
        const exported = pulumi("a", ["stack", "export"]);
        assert.equal(exported.status, 0, exported.stderr);
        const deployment = JSON.parse(exported.stdout).deployment;
        assert.ok(deployment.resources.length >= 10, `${deployment.resources.length} resources in the state`);
        const pending = (deployment.pending_operations ?? []).map(
            (op: { type: string; resource: { urn: string } }) => `${op.type} ${op.resource.urn.split("::").pop()}`,
        );
        assert.ok(
            pending.some((op: string) => /^updating green-host-\d$/.test(op)),
            `the interrupted host deploy is recorded: ${pending.join(", ")}`,
        );
        const refused = up("a", "after the kill, from clone A");
        assert.equal(refused.status, 1);
        assert.match(
            refused.stderr,
            new RegExp(`the stack is currently locked by 1 lock.*\\n.*\\(pid ${killedPid}\\)`),
        );

        // recover does not clear a shared backend's lock by itself, and says how.
        const cautious = await npmRun("a", "recover");
        assert.equal(cautious.status, 1, cautious.output);
        assert.match(
            cautious.output,
            new RegExp(
                `the stack is locked by \\S+@${os.hostname()} \\(pid ${killedPid}, since \\S+; ` +
                    "no pulumi runs with that pid here any more\\), and pulumi up changed nothing",
            ),
        );
        assert.match(cautious.output, /npm run recover -- --cancel/);
        assert.deepEqual(
            locks().map((l) => l.pid),
            [killedPid],
            "the lock is still there",
        );

        // In the killed update's own clone: its leftovers stopped, the lock cleared, converged.
        const recovered = await npmRun("b", "recover", "--cancel");
        assert.equal(recovered.status, 0, recovered.output);
        assert.match(recovered.output, /Stopping \d+ process\(es\) the killed update left running/);
        assert.match(recovered.output, /Cleared the stack's lock \(pulumi cancel\)/);
        assert.match(recovered.output, /Recovered: the stack says blue is live, nginx serves blue/);
        assert.deepEqual(locks(), []);
        assert.deepEqual(leftovers(clones.b), [], "nothing of the killed update runs");
        assert.equal((await app("green")).version, "1.2.0", "the converge finished the interrupted deploy");

        shareConfig("b", "a");
        const next = up("a", "the next update, from clone A");
        assert.equal(next.status, 0, next.stderr);
        assert.deepEqual(await served(), { header: "blue", color: "blue", version: "1.1.0" });
    });
});
