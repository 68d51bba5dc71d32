// The bake after a switch, on the local target under load: a release that passes /health but
// answers 500 to one request in twenty goes live, nginx's metrics show it, and the switch puts
// the previous colour back within the bake window, failing the update with the ratio; a good
// release bakes and the update says what it saw. No request to the old pool fails.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";
import { historyTable } from "../support/history";
import { measureUnderLoad } from "../support/traffic";

const BAKE_SECONDS = 8;

/** Prepended to the reference app: one request in twenty (not /health) answers 500. */
const ONE_IN_TWENTY_FAILS = `
let oneInTwentyServed = 0;
const originalEmit = require("node:http").Server.prototype.emit;
require("node:http").Server.prototype.emit = function (event, req, res) {
    const app = event === "request" && !req.url.startsWith("/health") && !req.url.startsWith("/status");
    if (app && ++oneInTwentyServed % 20 === 0) {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end("checkout failed\\n");
        return true;
    }
    return originalEmit.apply(this, arguments);
};
`;

describe("the bake after a switch: a release that fails 5% of requests goes back at once (local)", function () {
    let stack: LocalStack;

    before(async () => {
        // With the operator scripts: npm run history reads the verdicts.
        stack = await createLocalStack(
            {
                switchMode: "no-reload",
                bakeSeconds: String(BAKE_SECONDS),
                bakeMax5xxPercent: "1",
                bakeMinRequests: "100",
            },
            ["scripts/ops"],
        );
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    async function liveColor(): Promise<string> {
        return String((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"]);
    }

    function load(name: string, action: () => Promise<void>) {
        return measureUnderLoad(
            { url: stack.publicUrl, name, hostsPerPool: 2, appStatus: (c, i) => stack.appStatus(c, i) },
            action,
        );
    }

    it("a release answering 500 to 5% of requests is switched back within the bake, the update failing", async () => {
        const bad = path.join(stack.dir, "one-in-twenty");
        fs.cpSync(path.join(REPO_ROOT, "bin", "app"), bad, { recursive: true });
        const server = path.join(bad, "server.js");
        fs.writeFileSync(server, `${ONE_IN_TWENTY_FAILS}\n${fs.readFileSync(server, "utf8")}`);
        await stack.stack.setConfig("greenArtifact", { value: bad });
        await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        let upStarted = 0;
        let upEnded = 0;
        const run = await load("switch to a release failing 5% (bake)", async () => {
            upStarted = Date.now();
            await assert.rejects(stack.stack.up({ onOutput: (text) => (output += text) }));
            upEnded = Date.now();
        });
        assert.match(
            output,
            /the bake of green failed \d+s after traffic moved: [\d.]+% of its \d+ requests answered 5xx/,
        );
        assert.match(output, /answered 5xx \(\d+; the limit is 1%\)/);
        assert.match(output, /Restored the previous live colour \(blue\)/);
        assert.equal(await liveColor(), "blue", "traffic back on blue");
        const ratio = Number(/: ([\d.]+)% of its/.exec(output)?.[1]);
        assert.ok(ratio >= 3 && ratio <= 7, `the ratio seen is about 5%: ${ratio}%`);
        // The only failures are green's own 500s, all inside the bake window: blue lost nothing.
        const failures = run.result.failures;
        assert.ok(failures.length > 0, "the load met green's 500s");
        assert.deepEqual(
            failures.filter((f) => f.status !== 500),
            [],
            "no request failed other than the bad release's own 500s",
        );
        const [from, to] = [upStarted - run.startedAt, upEnded - run.startedAt];
        assert.ok(
            failures.every((f) => f.atMs >= from && f.atMs <= to),
            "every 500 came while the failing update ran",
        );
        const window = (Math.max(...failures.map((f) => f.atMs)) - Math.min(...failures.map((f) => f.atMs))) / 1000;
        assert.ok(
            window < BAKE_SECONDS,
            `green oneInTwentyServed for ${window.toFixed(1)} s, inside the ${BAKE_SECONDS} s bake`,
        );
        recordOutcome({
            target: "local",
            area: "bake",
            fault: "a release that answers 500 to one request in twenty goes live (bakeSeconds 8, limit 1%)",
            expected: "the previous colour back within the bake; the update fails with the ratio; blue loses nothing",
            observed:
                `back on blue after ${window.toFixed(1)} s of green, ${ratio}% 5xx reported; ` +
                `${failures.length} 500s from green, 0 other failures`,
            sent: run.result.sent,
            lost: 0,
        });
    });

    it("a good release bakes: the update succeeds and says what it saw", async () => {
        await stack.stack.setConfig("greenArtifact", { value: "bin/app" });
        await stack.stack.setConfig("greenVersion", { value: "1.2.0" });
        let output = "";
        const run = await load("switch to a good release (bake)", async () => {
            const result = await stack.stack.up({ onOutput: (text) => (output += text) });
            assert.equal(result.summary.result, "succeeded");
        });
        assert.deepEqual(run.result.failures, []);
        assert.match(output, new RegExp(`Bake passed: green answered \\d+ requests in ${BAKE_SECONDS}s: 0\\.00% 5xx`));
        assert.equal(await liveColor(), "green");
    });

    it("a canary of a release failing 5% ends within its bake, the update failing; green loses nothing", async () => {
        await stack.stack.setConfig("blueArtifact", { value: path.join(stack.dir, "one-in-twenty") });
        await stack.stack.setConfig("blueVersion", { value: "1.3.0" });
        await stack.stack.setConfig("canaryPercent", { value: "50" });
        let output = "";
        const run = await load("canary of a release failing 5% (bake)", async () => {
            await assert.rejects(stack.stack.up({ onOutput: (text) => (output += text) }));
        });
        assert.match(output, /the bake of blue failed \d+s after traffic moved: [\d.]+% of its \d+ requests/);
        assert.match(output, /Restored the previous live colour \(green\) and the canary as it was \(off\)/);
        const canary = await fetch(`${stack.internalUrl}/bluegreen/canary`);
        assert.equal((await canary.text()).trim(), "off", "the canary ended");
        // The only failures are blue's own 500s: green, which kept the other half, lost nothing.
        assert.ok(run.result.failures.length > 0, "the load met blue's 500s");
        assert.deepEqual(
            run.result.failures.filter((f) => f.status !== 500),
            [],
            "no request failed other than the canary's own 500s",
        );
        const ratio = Number(/: ([\d.]+)% of its/.exec(output)?.[1]);
        recordOutcome({
            target: "local",
            area: "bake",
            fault: "a canary (50%) of a release that answers 500 to one request in twenty (bakeSeconds 8, limit 1%)",
            expected: "the canary ends within the bake; the update fails with the ratio; green loses nothing",
            observed: `canary off again, ${ratio}% 5xx reported; ${run.result.failures.length} 500s from blue, 0 other`,
            sent: run.result.sent,
            lost: 0,
        });
        await stack.stack.setConfig("canaryPercent", { value: "0" });
    });

    it("a canary of a good release bakes: the update succeeds and says what it saw", async () => {
        await stack.stack.setConfig("blueArtifact", { value: "bin/app" });
        await stack.stack.setConfig("blueVersion", { value: "1.4.0" });
        await stack.stack.setConfig("canaryPercent", { value: "50" });
        let output = "";
        const run = await load("canary of a good release (bake)", async () => {
            const result = await stack.stack.up({ onOutput: (text) => (output += text) });
            assert.equal(result.summary.result, "succeeded");
        });
        assert.deepEqual(run.result.failures, []);
        assert.match(output, new RegExp(`Bake passed: blue answered \\d+ requests in ${BAKE_SECONDS}s: 0\\.00% 5xx`));
        await stack.stack.setConfig("canaryPercent", { value: "0" });
    });

    it("npm run history says why each bake failed, in the row of its update, once an update succeeded", async () => {
        // A failed update records nothing: the next successful one reads the verdicts nginx's host kept.
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
        const { rows, printed } = historyTable(stack);
        const updates = rows.filter((row) => /^\d+$/.test(row[0]));
        // update, time, result, live, blue, green, bake, message (no hooks in this stack).
        const bakes = updates.map((row) => [row[2], row[6]]);
        const failed = bakes.filter(([result]) => result.startsWith("failed"));
        assert.equal(failed.length, 2, printed);
        assert.match(
            failed[0][1],
            /^FAILED: the bake of green failed \d+s after traffic moved: [\d.]+% of its/,
            printed,
        );
        assert.match(
            failed[1][1],
            /^FAILED: the bake of blue failed \d+s after traffic moved: [\d.]+% of its/,
            printed,
        );
        for (const color of ["green", "blue"]) {
            const passed = new RegExp(`^passed: ${color} answered \\d+ requests`);
            assert.ok(
                bakes.some(([result, bake]) => result === "succeeded" && passed.test(bake)),
                `${color}'s pass (a switch, a canary) in its row: ${printed}`,
            );
        }
    });
});
