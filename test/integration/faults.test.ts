// Faults injected into a running local-target stack with a paced load running and every
// response counted: an app killed during the gate, a host that turns unhealthy between the gate
// and the switch, nginx not running when a switch starts, a reload nginx refuses (its port
// taken), a foreign process on a host's port, and two `pulumi up` at once (a killed `pulumi up`:
// recovery.test.ts).
// After each: no request lost, and what the stack says is live is what nginx serves.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import type { LoadResult } from "../../scripts/lib/load";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { measureUnderLoad } from "../support/traffic";

type Color = "blue" | "green";

const other = (c: Color): Color => (c === "blue" ? "green" : "blue");

describe("faults under load on the local target: nothing lost, state agrees with nginx", function () {
    let stack: LocalStack;
    const quiet = { onOutput: () => undefined };

    before(async () => {
        stack = await createLocalStack({ switchMode: "no-reload" });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    /** What nginx serves now, asked on its internal listener. */
    async function nginxLive(): Promise<string> {
        return String((await getJson(`${stack.internalUrl}/bluegreen/live`)).body);
    }

    /** The live colour the stack's last successful update recorded. */
    async function stateLive(): Promise<string> {
        return String((await stack.stack.outputs()).activeColor.value);
    }

    async function assertStateAgrees(what: string): Promise<string> {
        const [served, recorded] = [await nginxLive(), await stateLive()];
        assert.equal(served, recorded, `${what}: nginx serves ${served}, the stack says ${recorded}`);
        return served;
    }

    async function pidOf(color: Color, index: number): Promise<number> {
        return (await stack.appStatus(color, index)).pid;
    }

    function urnOf(name: string): Promise<string> {
        return stack.stack.exportStack().then((state) => {
            const resources = (state.deployment as { resources: { urn: string }[] }).resources;
            const found = resources.find((r) => r.urn.endsWith(`::${name}`));
            assert.ok(found, `a resource named ${name}`);
            return found.urn;
        });
    }

    /**
     * Switches to the idle pool under load and SIGKILLs that pool's first app as soon as the
     * update's output matches `when`. Returns what the update printed and whether it failed.
     */
    async function switchKillingApp(
        name: string,
        when: RegExp,
    ): Promise<{ target: Color; live: Color; output: string; failed: boolean; sent: number }> {
        const live = (await nginxLive()) as Color;
        const target = other(live);
        const victim = await pidOf(target, 1);
        await stack.stack.setConfig("activeColor", { value: target });
        let output = "";
        let killed = false;
        let failed = false;
        const { result } = await underLoad(`${name} (${target}-1)`, async () => {
            try {
                await stack.stack.up({
                    onOutput: (text) => {
                        output += text;
                        if (!killed && when.test(output)) {
                            killed = true;
                            process.kill(victim, "SIGKILL");
                        }
                    },
                });
            } catch {
                failed = true;
            }
        });
        assert.ok(killed, `the app was killed when the output matched ${when}`);
        return { target, live, output, failed, sent: result.sent };
    }

    /** Redeploys host 1 of `color` with --replace (and lets the update finish its switch). */
    async function replaceHost(color: Color): Promise<void> {
        const recovered = await stack.stack.up({ ...quiet, replace: [await urnOf(`${color}-host-1`)] });
        assert.equal(recovered.summary.result, "succeeded");
        assert.equal(await assertStateAgrees("after --replace"), color);
    }

    /**
     * Runs `action` under load; failures refused before `refusedUntil()` are the fault's own.
     */
    async function underLoad(
        name: string,
        action: () => Promise<void>,
        refusedUntil?: () => number,
    ): Promise<{ result: LoadResult; lost: number; refused: number }> {
        const refusedOf = (result: LoadResult, startedAt: number) => {
            const cutoff = refusedUntil ? refusedUntil() - startedAt : -1;
            return result.failures.filter((f) => /ECONNREFUSED/.test(f.error ?? "") && f.atMs <= cutoff).length;
        };
        const note = (result: LoadResult, startedAt: number) => {
            const refused = refusedOf(result, startedAt);
            return refused ? ` (${refused} refused while nginx was down: the injected fault)` : "";
        };
        const { result, startedAt } = await measureUnderLoad(
            { url: stack.publicUrl, name, hostsPerPool: 2, note },
            action,
        );
        const refused = refusedOf(result, startedAt);
        const lost = result.failures.length - refused + result.closedOnReuse;
        // The failures that count, with the cut-off, so that a loss says when it happened and how.
        const cutoff = refusedUntil ? refusedUntil() - startedAt : -1;
        const counted = result.failures.filter((f) => !(/ECONNREFUSED/.test(f.error ?? "") && f.atMs <= cutoff));
        assert.equal(
            lost,
            0,
            `no request lost (refused until ${cutoff} ms; ${result.closedOnReuse} closed on reuse): ` +
                JSON.stringify(counted.slice(0, 5)),
        );
        return { result, lost, refused };
    }

    it("an app killed during the gate: the update fails naming it, traffic stays; --replace redeploys it", async () => {
        const { target, live, output, failed, sent } = await switchKillingApp(
            "app killed during the gate",
            /gate-check updating/,
        );
        assert.ok(failed, "the update failed");
        assert.match(
            output,
            new RegExp(`${target}-1 \\(127\\.0\\.0\\.1:\\d+\\) NOT ready after 10s: last /health answered 000`),
        );
        assert.match(output, /pulumi up --replace <its deploy command's URN>/);
        assert.equal(await assertStateAgrees("after the failed gate"), live);
        await replaceHost(target);
        recordOutcome({
            area: "fault",
            fault: `SIGKILL ${target}-1's app while the gate checks the ${target} pool`,
            expected:
                `gate fails naming the host; traffic stays on ${live}; ` +
                `pulumi up --replace redeploys it and switches`,
            observed:
                `failed: "${target}-1 NOT ready … answered 000"; stayed ${live}; ` +
                `--replace then switched to ${target}`,
            sent,
            lost: 0,
        });
    });

    it("a host dying between gate and switch: the switch's re-check or nginx's retry saves every request", async () => {
        const { target, output, failed, sent } = await switchKillingApp(
            "host unhealthy after the gate",
            /gate-check updated/,
        );
        const served = await assertStateAgrees("after a host died between gate and switch");
        const observed = failed
            ? `the switch's re-check caught it ("${target}-1 NOT ready"); stayed ${served}`
            : `the switch won the race; nginx retried every request on ${target}-2 (${served} live)`;
        if (failed) assert.match(output, new RegExp(`${target}-1 \\(127\\.0\\.0\\.1:\\d+\\) NOT ready`));
        console.log(`      ${observed}`);
        await replaceHost(target);
        recordOutcome({
            area: "fault",
            fault: `SIGKILL ${target}-1's app right after the gate passed, before the switch`,
            expected: "no request lost; nginx and state agree",
            observed,
            sent,
            lost: 0,
        });
    });

    it("nginx not running when a switch starts: the switch starts it with the new config and colour", async () => {
        const live = (await nginxLive()) as Color;
        const target = other(live);
        const pidFile = path.join(stack.stateDir, "nginx", "logs", "nginx.pid");
        const master = Number(fs.readFileSync(pidFile, "utf8").trim());
        process.kill(master, "SIGQUIT");
        for (let i = 0; i < 100 && fs.existsSync(`/proc/${master}`); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(!fs.existsSync(`/proc/${master}`), "nginx stopped");
        await stack.stack.setConfig("activeColor", { value: target });
        let output = "";
        let back = 0;
        const { result, refused } = await underLoad(
            "switch while nginx is down",
            async () => {
                const up = await stack.stack.up({ onOutput: (t) => (output += t) });
                back = Date.now();
                assert.equal(up.summary.result, "succeeded");
            },
            () => back,
        );
        assert.match(output, /Starting nginx with prefix/);
        assert.equal(await assertStateAgrees("after starting nginx"), target);
        recordOutcome({
            area: "fault",
            fault: "nginx stopped (SIGQUIT), then a switch",
            expected: "the switch starts nginx with the new config and colour",
            observed:
                `started; ${target} live; ${refused} requests refused while nginx was down ` +
                `(the fault itself), none lost once it ran`,
            sent: result.sent,
            lost: 0,
        });
    });

    it("reload refused (port taken): fails with nginx's reason once nginx gives up; old config serves on", async () => {
        const blocker = net.createServer();
        await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
        const taken = (blocker.address() as net.AddressInfo).port;
        const conf = path.join(stack.stateDir, "nginx", "conf", "nginx.conf");
        const before = fs.readFileSync(conf, "utf8");
        const oldPort = (await stack.stack.getConfig("publicPort")).value;
        await stack.stack.setConfig("publicPort", { value: String(taken) });
        let output = "";
        let seconds = 0;
        let measured: Awaited<ReturnType<typeof underLoad>>;
        try {
            measured = await underLoad("reload refused: port taken", async () => {
                const started = Date.now();
                await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
                seconds = (Date.now() - started) / 1000;
            });
        } finally {
            blocker.close();
            await stack.stack.setConfig("publicPort", { value: oldPort });
        }
        const { result } = measured;
        assert.match(output, /nginx still serves the previous config \w+: no reload needed/);
        assert.match(
            output,
            new RegExp(
                `nginx refused config \\w+ and kept serving the previous one: ` +
                    `.*bind\\(\\) to 127\\.0\\.0\\.1:${taken} failed \\(98: Address already in use\\)`,
            ),
        );
        assert.match(output, /Restored the previous nginx config/);
        assert.equal(fs.readFileSync(conf, "utf8"), before, "the config file on disk is the previous one");
        await assertStateAgrees("after the refused reload");
        const servedBefore = (await getJson(`${stack.internalUrl}/bluegreen/config-id`)).body;
        assert.equal(
            (await stack.stack.up(quiet)).summary.result,
            "succeeded",
            "with the old port back, the next update converges",
        );
        assert.equal(
            (await getJson(`${stack.internalUrl}/bluegreen/config-id`)).body,
            servedBefore,
            "nginx serves the config it served throughout",
        );
        recordOutcome({
            area: "fault",
            fault: "change publicPort to a port another process holds (reload cannot bind)",
            expected: "update fails with nginx's reason; previous config restored; traffic unaffected",
            observed:
                `failed after ${seconds.toFixed(1)} s with "bind() … Address already in use"; ` +
                `config file restored`,
            sent: result.sent,
            lost: 0,
        });
    });

    it("a foreign process holding an idle host's port: the deploy refuses to take it for the new release", async () => {
        const live = (await nginxLive()) as Color;
        const idle = other(live);
        const victim = await pidOf(idle, 2);
        process.kill(victim, "SIGKILL");
        // An impostor on the host's port that answers /health exactly like a ready app would.
        const impostor = http.createServer((_req, res) => {
            res.setHeader("Content-Type", "application/json");
            res.end(JSON.stringify({ status: "ready", version: "9.9.9", color: idle }));
        });
        // The killed app's socket is released when its process is gone: retry until it is.
        for (let attempt = 0; ; attempt++) {
            const bound = await new Promise<boolean>((resolve) => {
                impostor.once("error", () => resolve(false));
                impostor.listen(stack.hostPort(idle, 2), "127.0.0.1", () => resolve(true));
            });
            if (bound) break;
            assert.ok(attempt < 100, "the killed app's port was freed within 5 s");
            await new Promise((r) => setTimeout(r, 50));
        }
        const version = (await stack.appStatus(idle, 1)).version; // what the pool runs now
        await stack.stack.setConfig(`${idle}Version`, { value: "9.9.9" });
        let output = "";
        try {
            const { result } = await underLoad("foreign process on an idle host's port", async () => {
                await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            });
            assert.match(
                output,
                new RegExp(
                    `${idle}-2: 127\\.0\\.0\\.1:\\d+ is still answering after the host's own process stopped: ` +
                        `another process holds the port`,
                ),
            );
            assert.equal(await assertStateAgrees("after the refused deploy"), live);
            recordOutcome({
                area: "fault",
                fault: `kill ${idle}-2's app and bind an impostor answering "ready" on its port, then deploy`,
                expected: "the deploy refuses (another process holds the port); traffic unaffected",
                observed: "refused naming the port; live pool served throughout",
                sent: result.sent,
                lost: 0,
            });
        } finally {
            await new Promise<void>((resolve) => impostor.close(() => resolve()));
            await stack.stack.setConfig(`${idle}Version`, { value: version });
        }
        const redeployed = await stack.stack.up({ ...quiet, replace: [await urnOf(`${idle}-host-2`)] });
        assert.equal(redeployed.summary.result, "succeeded", "with the port free, the host is deployed again");
        assert.equal((await stack.appStatus(idle, 2)).status, "ready");
    });

    it("two pulumi up at once: never both run; a refused one changes nothing; nothing lost; state agrees", async () => {
        const live = (await nginxLive()) as Color;
        const target = other(live);
        await stack.stack.setConfig("activeColor", { value: target });
        let outcomes: PromiseSettledResult<unknown>[] = [];
        const { result } = await underLoad("two pulumi up at once", async () => {
            outcomes = await Promise.allSettled([stack.stack.up(quiet), stack.stack.up(quiet)]);
        });
        const rejected = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
        assert.ok(rejected.length >= 1, "the stack lock let both updates run");
        for (const refusal of rejected) {
            assert.match(String(refusal.reason), /locked|currently being updated|conflict/i);
        }
        // The file backend writes its lock, then looks for others: two updates that start in the
        // same instant each see the other's lock and both step back. Safe, and a rerun switches.
        let observed = "one succeeded, one refused (stack locked)";
        if (rejected.length === 2) {
            assert.equal(await assertStateAgrees("after both concurrent updates were refused"), live);
            const rerun = await stack.stack.up(quiet);
            assert.equal(rerun.summary.result, "succeeded", "the rerun after both were refused switches");
            observed = "both refused by the lock (they started in the same instant), nothing changed; a rerun switched";
        }
        assert.equal(await assertStateAgrees("after two concurrent updates"), target);
        recordOutcome({
            area: "fault",
            fault: "two pulumi up of the same switch at once",
            expected: "never both run: one runs and the other is refused by the stack lock (or both are refused)",
            observed,
            sent: result.sent,
            lost: 0,
        });
    });
});
