// The canary on the local target under load, through real `pulumi up`s: canaryPercent 10 gates the
// idle pool and then sends 10% ±2 points of new clients to it, each client kept on its pool by its
// cookie; nginx's metrics agree with the load generator to the request; a larger share keeps the
// canary's clients; 0 ends it; a switch of activeColor completes it without sending any canary
// client back. No request fails, no connection closes, nginx never reloads.
import * as assert from "node:assert/strict";
import * as http from "node:http";
import * as path from "node:path";
import { LocalStack, createLocalStack } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { delta, settledMetrics } from "../support/metrics";
import { nginxWorkers } from "../support/nginxCheck";
import { type Measured, measureUnderLoad } from "../support/traffic";

/** A client that keeps nginx's bluegreen_client cookie, and the colours it was served. */
class Client {
    private cookie = "";
    readonly seen: string[] = [];
    constructor(private readonly url: string) {}

    visit(): Promise<string> {
        return new Promise((resolve, reject) => {
            const headers = this.cookie ? { Cookie: this.cookie } : {};
            http.get(`${this.url}/`, { agent: false, headers }, (res) => {
                res.resume();
                res.on("end", () => {
                    const given = (res.headers["set-cookie"] ?? []).find((c) => c.startsWith("bluegreen_client="));
                    if (given) this.cookie = given.split(";")[0];
                    const color = String(res.headers["x-deploy-color"]);
                    this.seen.push(color);
                    resolve(color);
                });
            }).on("error", reject);
        });
    }

    get first(): string {
        return this.seen[0];
    }
}

describe("canary: a share of clients on the idle pool, sticky, gated, no reload (local, no-reload)", function () {
    let stack: LocalStack;
    let prefix: string;
    let workers: number[];
    const quiet = { onOutput: () => undefined };

    before(async () => {
        stack = await createLocalStack({ switchMode: "no-reload", greenVersion: "1.1.0" });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        prefix = path.join(stack.stateDir, "nginx");
        workers = nginxWorkers(prefix);
    });

    after(async () => {
        await stack?.dispose();
    });

    function load(name: string, action: () => Promise<void>): Promise<Measured> {
        return measureUnderLoad(
            { url: stack.publicUrl, name, hostsPerPool: 2, appStatus: (c, i) => stack.appStatus(c, i) },
            action,
        );
    }

    /** What the last switch command printed, both streams (kept in the stack's state). */
    async function switchOutput(): Promise<string> {
        const state = await stack.stack.exportStack();
        type Printed = { stdout?: string; stderr?: string };
        const resources = (state.deployment as { resources: { urn: string; outputs?: Printed }[] }).resources;
        const router = resources.find((r) => r.urn.endsWith("::router-nginx"));
        assert.ok(router?.outputs?.stdout, "the switch's output in the state");
        return `${router.outputs.stdout}\n${router.outputs.stderr ?? ""}`;
    }

    /** nginx's counts, once every worker has flushed what it counted so far. */
    function metrics(): Promise<Map<string, number>> {
        return settledMetrics(stack.internalUrl);
    }

    /** `pulumi up` under load with canaryPercent `percent` (and other config); its output. */
    async function upUnderLoad(
        name: string,
        config: Record<string, string>,
    ): Promise<{ output: string; run: Measured }> {
        for (const [key, value] of Object.entries(config)) await stack.stack.setConfig(key, { value });
        let output = "";
        const run = await load(name, async () => {
            const result = await stack.stack.up({ onOutput: (text) => (output += text) });
            assert.equal(result.summary.result, "succeeded");
        });
        assert.deepEqual(run.result.failures, [], `${name}: no request failed`);
        assert.equal(run.result.closedOnReuse, 0, `${name}: no connection closed`);
        assert.equal(run.postsProcessed, run.result.postOk, `${name}: every POST ran once`);
        return { output, run };
    }

    const clients: Client[] = [];

    it("canaryPercent 10: the idle pool is gated, then gets 10% ±2 of new clients, as nginx counts too", async () => {
        const { output, run } = await upUnderLoad("canary 10% starts", { canaryPercent: "10" });
        assert.match(output, /CANARY STARTS: 10% of clients to green \(1\.1\.0\), sticky per client, 90% on blue/);
        const switched = await switchOutput();
        assert.match(switched, /Gate passed: all 2 green host\(s\) ready/, "the canary's pool was gated");
        assert.match(switched, /Canary: 10% of clients to green without a reload/);
        assert.match(switched, /verified GET \/health \(a client of green's share\): 200 from green/);
        assert.match(switched, /verified GET \/health \(a client of blue's share\): 200 from blue/);

        // Steady load, nothing else on the public listener: each request is a new client.
        const before = await metrics();
        const steady = await load("steady load on a 10% canary", () => new Promise((r) => setTimeout(r, 6000)));
        const after = await metrics();
        const { blue = 0, green = 0 } = steady.result.byColor;
        const share = (100 * green) / (blue + green);
        assert.ok(Math.abs(share - 10) <= 2, `green got ${share.toFixed(2)}% of ${blue + green} requests, not 10 ±2`);
        assert.deepEqual(steady.result.failures, []);
        for (const [color, counted] of Object.entries({ blue, green })) {
            const sample = `bluegreen_requests_total{color="${color}",class="2xx"}`;
            assert.equal(delta(before, after, sample), counted, `nginx counted ${color}'s requests as the load did`);
        }

        // 200 clients that keep their cookie: each stays on its first colour.
        for (let i = 0; i < 200; i++) clients.push(new Client(stack.publicUrl));
        for (let round = 0; round < 4; round++) await Promise.all(clients.map((c) => c.visit()));
        for (const c of clients) assert.deepEqual(new Set(c.seen), new Set([c.first]), "a client kept its pool");
        assert.deepEqual(nginxWorkers(prefix), workers, "the same nginx workers: no reload");
        recordOutcome({
            target: "local",
            area: "canary",
            fault: "canaryPercent 0 -> 10 by pulumi up under load, then 6 s of steady load",
            expected: "idle pool gated; 10% ±2 of new clients on it, sticky; nginx's metrics match the load",
            observed:
                `${share.toFixed(1)}% of ${blue + green} new clients on green; 200 cookie clients kept their ` +
                "pool; metrics matched to the request; no reload",
            sent: run.result.sent + steady.result.sent,
            lost: 0,
        });
    });

    it("a larger share keeps every canary client on the canary; 0 ends it", async () => {
        const green = clients.filter((c) => c.first === "green");
        assert.ok(green.length > 5, `some cookie clients on green (${green.length})`);
        const { output } = await upUnderLoad("canary 10% -> 40%", { canaryPercent: "40" });
        assert.match(output, /canary 10% -> 40% of clients to green/);
        await Promise.all(clients.map((c) => c.visit()));
        for (const c of green) assert.equal(c.seen.at(-1), "green", "a canary client stayed on the canary");
        const nowGreen = clients.filter((c) => c.seen.at(-1) === "green").length;
        assert.ok(nowGreen > green.length, `a larger share adds clients (${green.length} -> ${nowGreen})`);

        const ended = await upUnderLoad("canary ends", { canaryPercent: "0" });
        assert.match(ended.output, /canary ends: every client back on blue \(1\.0\.0\)/);
        await Promise.all(clients.map((c) => c.visit()));
        assert.ok(
            clients.every((c) => c.seen.at(-1) === "blue"),
            "every client back on blue",
        );
        assert.equal((await (await fetch(`${stack.internalUrl}/bluegreen/canary`)).text()).trim(), "off");
        assert.deepEqual(nginxWorkers(prefix), workers, "no reload");
    });

    it("a switch of activeColor completes a canary: no canary client goes back to the old colour", async () => {
        await upUnderLoad("canary 30%", { canaryPercent: "30" });
        const canaryClients = Array.from({ length: 60 }, () => new Client(stack.publicUrl));
        await Promise.all(canaryClients.map((c) => c.visit()));
        const onGreen = canaryClients.filter((c) => c.first === "green");
        assert.ok(onGreen.length > 3, `some clients on the canary (${onGreen.length})`);
        // They keep coming back while the switch completes the canary.
        let switching = true;
        const visiting = (async () => {
            for (let round = 0; switching && round < 2000; round++) await Promise.all(onGreen.map((c) => c.visit()));
        })();
        const { output } = await upUnderLoad("switch completes the canary", {
            activeColor: "green",
            canaryPercent: "0",
        });
        switching = false;
        await visiting;
        assert.match(output, /the switch completes the canary: every client on green/);
        for (const c of onGreen) {
            assert.ok(c.seen.length > 2, "visited during the switch");
            assert.deepEqual(new Set(c.seen), new Set(["green"]), "a canary client never went back to blue");
        }
        assert.equal((await (await fetch(`${stack.internalUrl}/bluegreen/live`)).text()).trim(), "green");
        assert.deepEqual(nginxWorkers(prefix), workers, "no reload");
    });

    it("refuses a canary in reload mode, and a redeploy of the canary's pool, naming the fix", async () => {
        await stack.stack.setConfig("canaryPercent", { value: "20" });
        await stack.stack.setConfig("switchMode", { value: "reload" });
        let output = "";
        await assert.rejects(stack.stack.preview({ onOutput: (t) => (output += t) }));
        assert.match(output, /canaryPercent is 20, but a canary picks each client's pool/);
        await stack.stack.setConfig("switchMode", { value: "no-reload" });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded", "a canary of blue on green");
        await stack.stack.setConfig("blueVersion", { value: "1.2.0" });
        output = "";
        await assert.rejects(stack.stack.preview({ onOutput: (t) => (output += t) }));
        assert.match(output, /but 20% of clients are on blue \(a canary\)/);
        assert.match(output, /pulumi config set canaryPercent 0 && pulumi up/);
    });
});
