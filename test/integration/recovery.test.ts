// A `pulumi up` SIGKILLed under load at three moments (while the gate checks, while the switch
// runs, while a pool deploys), three times each, and a stack whose checkpoint a kill left unreadable:
// `npm run recover` stops what the killed update left running, repairs the backend, clears the
// lock and converges. After each: nothing lost, and the stack's output, the colour nginx serves
// and a preview agree.
import * as assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { measureUnderLoad } from "../support/traffic";

type Color = "blue" | "green";
const other = (c: Color): Color => (c === "blue" ? "green" : "blue");

/** Processes of Pulumi's (CLI, language host, program, plugins) or host scripts working in `dir`. */
function pulumiProcessesIn(dir: string): string[] {
    return fs.readdirSync("/proc").flatMap((pid) => {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) return [];
        try {
            const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
            const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
            const ours =
                /pulumi|BLUEGREEN_ON_|\.sh\s*$/.test(cmdline) ||
                fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes("BLUEGREEN_ON_");
            return (cwd === dir || cwd.startsWith(`${dir}/`)) && ours && !/^nginx|server\.js/.test(cmdline)
                ? [`${pid} ${cmdline.slice(0, 80)}`]
                : [];
        } catch {
            return [];
        }
    });
}

describe("recovery from a killed pulumi up under load: recover converges; state, nginx, preview agree", function () {
    let stack: LocalStack;
    let projectDir: string;
    let env: NodeJS.ProcessEnv;
    const quiet = { onOutput: () => undefined };

    before(async () => {
        stack = await createLocalStack({ switchMode: "no-reload" }, ["scripts/ops"]);
        projectDir = path.join(stack.dir, "project");
        env = { ...process.env, ...stack.env };
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    /** `npm run recover`, asynchronous so that the load keeps running meanwhile. */
    function recover(): Promise<{ status: number; output: string }> {
        return new Promise((resolve) => {
            execFile(
                "bash",
                [path.join(projectDir, "scripts", "ops", "run.sh"), "recover", "--stack", "test"],
                { env, encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
                (err, stdout, stderr) =>
                    resolve({
                        status: err ? (typeof err.code === "number" ? err.code : 1) : 0,
                        output: `${stdout}${stderr}`,
                    }),
            );
        });
    }

    /**
     * `pulumi up` as a terminal runs it, SIGKILLed (the CLI alone, as a crash would) when its
     * output matches `when`.
     */
    function upKilledAt(when: RegExp): Promise<string> {
        return new Promise((resolve, reject) => {
            const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--stack", "test", "--non-interactive"], {
                cwd: projectDir,
                env,
                stdio: ["ignore", "pipe", "pipe"],
            });
            let output = "";
            let killedAt = "";
            const watch = (chunk: Buffer) => {
                output += chunk.toString("utf8");
                const match = when.exec(output);
                if (!killedAt && match) {
                    killedAt = match[0];
                    child.kill("SIGKILL");
                }
            };
            child.stdout.on("data", watch);
            child.stderr.on("data", watch);
            child.on("exit", () =>
                killedAt
                    ? resolve(killedAt)
                    : reject(new Error(`pulumi up ended before its output matched ${when}:\n${output}`)),
            );
        });
    }

    async function nginxLive(): Promise<string> {
        return String((await getJson(`${stack.internalUrl}/bluegreen/live`)).body);
    }

    /** The stack's output, what nginx serves publicly and a no-change preview agree on `expected`. */
    async function assertAgree(expected: Color): Promise<void> {
        const outputs = await stack.stack.outputs();
        assert.equal(outputs.activeColor.value, expected, "the stack's activeColor output");
        assert.equal(
            (await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"],
            expected,
            "X-Deploy-Color that nginx serves",
        );
        assert.equal(await nginxLive(), expected, "nginx's live colour");
        await stack.stack.preview({ ...quiet, expectNoChanges: true });
        assert.deepEqual(pulumiProcessesIn(projectDir), [], "no process of the killed update is left");
    }

    /**
     * Runs `action` under load: nothing may fail or be closed under a client. `reloads`: the
     * action changes the nginx config, so nginx reloads, and the idle keep-alive connections a
     * reload closes under a client are counted apart (the measured cost of any reload, docs/switching.md
     * "Switch modes"), not as lost.
     */
    async function underLoad(name: string, action: () => Promise<void>, reloads = false) {
        const { result } = await measureUnderLoad({ url: stack.publicUrl, name, hostsPerPool: 2 }, action);
        assert.deepEqual(result.failures, [], "every request got a complete 2xx");
        if (!reloads) assert.equal(result.closedOnReuse, 0, "no keep-alive connection was closed under a client");
        return result;
    }

    /** The nginx config on disk is whole and passes nginx -t: a kill never leaves half a file. */
    function assertConfigWhole(when: string): void {
        const prefix = path.join(stack.stateDir, "nginx");
        const conf = path.join(prefix, "conf", "nginx.conf");
        const test = spawnSync(
            "nginx",
            ["-t", "-q", "-p", `${prefix}/`, "-e", path.join(prefix, "logs", "error.log"), "-c", conf],
            {
                encoding: "utf8",
            },
        );
        assert.equal(test.status, 0, `${when}: the config on disk passes nginx -t: ${test.stderr}`);
        const text = fs.readFileSync(conf, "utf8");
        assert.match(text, /^# config-id: \w+$/m, `${when}: a whole config (it starts with its id)`);
        assert.match(text, /\n}\s*$/, `${when}: a whole config (it ends with the http block)`);
    }

    const moments: { name: string; when: RegExp; reloads?: boolean; change: (live: Color) => Promise<Color> }[] = [
        {
            name: "while the gate checks the pool going live",
            when: /gate-check (creating|updating)/,
            change: async (live) => {
                await stack.stack.setConfig("activeColor", { value: other(live) });
                return other(live);
            },
        },
        {
            // With a config change too (nginx's worker_shutdown_timeout follows the drain timeout),
            // so the kill lands while a new config is written and nginx reloads.
            name: "while the switch writes a new nginx config and reloads",
            when: /router-nginx (creating|updating)/,
            reloads: true,
            change: async (live) => {
                const drain = (await stack.stack.getConfig("drainTimeoutSeconds").catch(() => ({ value: "10" }))).value;
                await stack.stack.setConfig("drainTimeoutSeconds", { value: drain === "11" ? "10" : "11" });
                await stack.stack.setConfig("activeColor", { value: other(live) });
                return other(live);
            },
        },
        {
            name: "while the idle pool deploys a new version",
            when: /(blue|green)-host-\d (creating|updating)/,
            change: async (live) => {
                const idle = other(live);
                const version = (await stack.appStatus(idle, 1)).version.replace(/\d+$/, (n) => String(Number(n) + 1));
                await stack.stack.setConfig(`${idle}Version`, { value: version });
                return live;
            },
        },
    ];

    for (const moment of moments) {
        for (const round of [1, 2, 3]) {
            it(`killed ${moment.name} (${round}/3): recover stops leftovers, clears the lock, converges`, async () => {
                const live = (await nginxLive()) as Color;
                const expected = await moment.change(live);
                let killedAt = "";
                let left: string[] = [];
                let recovered = { status: -1, output: "" };
                const result = await underLoad(
                    `pulumi up killed ${moment.name}`,
                    async () => {
                        killedAt = await upKilledAt(moment.when);
                        assertConfigWhole("right after the kill");
                        left = pulumiProcessesIn(projectDir);
                        recovered = await recover();
                    },
                    moment.reloads,
                );
                assert.equal(recovered.status, 0, `npm run recover:\n${recovered.output}`);
                assert.ok(left.length > 0, "the killed CLI left processes running (what recover is for)");
                assert.match(recovered.output, /Stopping \d+ process\(es\) the killed update left running/);
                assert.match(recovered.output, /Cleared the stack's lock/);
                assert.match(
                    recovered.output,
                    new RegExp(`Recovered: the stack says ${expected} is live, nginx serves ${expected}`),
                );
                await assertAgree(expected);
                assertConfigWhole("after recover");
                const closed = moment.reloads
                    ? `; ${result.closedOnReuse} idle keep-alive connection(s) closed by the reload`
                    : "";
                recordOutcome({
                    area: "fault",
                    fault: `SIGKILL pulumi up ${moment.name} (at "${killedAt}"), then npm run recover`,
                    expected:
                        "recover stops the leftovers, clears the lock, converges; output, nginx and preview agree",
                    observed:
                        `${left.length} processes left by the kill ` +
                        `(${left.map((l) => path.basename(l.split(" ")[1])).join(", ")}), ` +
                        `all stopped; config on disk whole; converged to ${expected}${closed}`,
                    sent: result.sent,
                    lost: 0,
                });
            });
        }
    }

    const backendStack = () => path.join(stack.dir, "backend", ".pulumi", "stacks", "bluegreen", "test.json");

    it("an empty metadata file (a write the kill cut short): the CLI fails with EOF; recover repairs it", async () => {
        const attrs = `${backendStack()}.attrs`;
        assert.ok(fs.existsSync(attrs), `the file backend keeps ${attrs}`);
        fs.truncateSync(attrs, 0);
        await assert.rejects(
            stack.stack.outputs(),
            /failed to load checkpoint: EOF/,
            "the stack is unusable, as users saw it",
        );
        const live = (await nginxLive()) as Color;
        let recovered = { status: -1, output: "" };
        const { sent } = await underLoad("checkpoint metadata emptied", async () => {
            recovered = await recover();
        });
        assert.equal(recovered.status, 0, `npm run recover:\n${recovered.output}`);
        assert.match(recovered.output, /removed the empty metadata file \S*test\.json\.attrs/);
        await assertAgree(live);
        recordOutcome({
            area: "fault",
            fault: "the checkpoint's .attrs file emptied (the 'failed to load checkpoint: EOF' state)",
            expected: "recover repairs the backend and converges",
            observed: "every CLI command failed with EOF; recover removed the empty file and converged",
            sent,
            lost: 0,
        });
    });

    it("a checkpoint not whole JSON: recover restores the backend's last good copy, saying so", async () => {
        const checkpoint = backendStack();
        const text = fs.readFileSync(checkpoint, "utf8");
        fs.writeFileSync(checkpoint, text.slice(0, Math.floor(text.length / 2)));
        await assert.rejects(stack.stack.outputs(), /failed to load checkpoint/);
        const live = (await nginxLive()) as Color;
        let recovered = { status: -1, output: "" };
        const { sent } = await underLoad("checkpoint cut in half", async () => {
            recovered = await recover();
        });
        assert.equal(recovered.status, 0, `npm run recover:\n${recovered.output}`);
        assert.match(
            recovered.output,
            new RegExp(
                "the checkpoint \\S*test\\.json was not whole JSON \\(kept as \\S+\\); " +
                    "restored the last good one, \\S+ \\(written [\\dT:.-]+Z\\)",
            ),
        );
        await assertAgree(live);
        recordOutcome({
            area: "fault",
            fault: "the checkpoint file cut in half",
            expected: "recover restores the last good checkpoint from the backend's copies and converges",
            observed: "restored from the backend's copy, said which; converged",
            sent,
            lost: 0,
        });
    });
});
