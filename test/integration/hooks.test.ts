// Switch hooks on the local target, through real `pulumi up` under load: a migration hook
// (preSwitchCommand) runs once per release going live, after the gate and before traffic moves,
// and its failure leaves traffic where it was; a notice hook (postSwitchCommand) runs after the
// verified switch, and its failure is a warning that moves nothing back. The hook is a script of
// the release itself, which records what the public listener served while it ran.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { historyTable } from "../support/history";
import { Measured, assertNothingLost, measureUnderLoad } from "../support/traffic";

/** What the release's hook.js appends, one JSON line per run. */
interface HookRecord {
    hook: string;
    version: string;
    color: string;
    previousColor: string;
    previousVersion: string;
    /** X-Deploy-Color of the public listener while the hook ran. */
    served: string;
    cwd: string;
    /** Variables the hook saw besides the documented ones (none may leak from the update). */
    leaked: string[];
}

/** The release's hook: records itself, asks the public listener what it serves, fails when told. */
const HOOK_JS = `
const fs = require("node:fs");
const http = require("node:http");
const [log, url, mode] = process.argv.slice(2);
const documented = ["PATH", "HOME", "LANG", "HOOK", "APP_VERSION", "POOL_COLOR", "RELEASE_ID",
    "PREVIOUS_COLOR", "PREVIOUS_VERSION",
    // Set by the shell that runs the command line.
    "PWD", "OLDPWD", "SHLVL", "_"];
http.get(url, (res) => {
    res.resume();
    const env = process.env;
    fs.appendFileSync(log, JSON.stringify({
        hook: env.HOOK, version: env.APP_VERSION, color: env.POOL_COLOR, previousColor: env.PREVIOUS_COLOR,
        previousVersion: env.PREVIOUS_VERSION, served: res.headers["x-deploy-color"], cwd: process.cwd(),
        leaked: Object.keys(env).filter((k) => !documented.includes(k)),
    }) + "\\n");
    console.log(env.HOOK + ": migration 0042 for " + env.APP_VERSION + " applied");
    if (mode === "fail") {
        console.error("migration 0042 failed: column orders.note exists");
        process.exit(3);
    }
});
`;

describe("switch hooks: a migration before traffic moves, a notice after (local target, under load)", function () {
    let stack: LocalStack;
    let hookLog: string;
    let release: string;

    function records(): HookRecord[] {
        if (!fs.existsSync(hookLog)) return [];
        return fs
            .readFileSync(hookLog, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line) as HookRecord);
    }

    /** The hook's command line: the release's hook.js, writing to the test's log. */
    function command(mode: "ok" | "fail"): string {
        return `node hook.js ${hookLog} ${stack.publicUrl}/ ${mode}`;
    }

    async function liveColor(): Promise<string> {
        return String((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"]);
    }

    function underLoad(name: string, action: () => Promise<void>): Promise<Measured> {
        return measureUnderLoad(
            { url: stack.publicUrl, name, hostsPerPool: 2, appStatus: (c, i) => stack.appStatus(c, i) },
            action,
        );
    }

    async function up(): Promise<string> {
        let output = "";
        const result = await stack.stack.up({ onOutput: (text) => (output += text) });
        assert.equal(result.summary.result, "succeeded");
        return output;
    }

    before(async () => {
        stack = await createLocalStack({ switchMode: "no-reload" }, ["scripts/ops"]);
        // The apps (and so the hooks) run as a user of their own under root: the log is theirs to write.
        const logDir = path.join(stack.dir, "hook-log");
        fs.mkdirSync(logDir, { mode: 0o777 });
        fs.chmodSync(logDir, 0o777);
        hookLog = path.join(logDir, "hooks.jsonl");
        release = path.join(stack.dir, "release-with-hooks");
        fs.cpSync(path.join(REPO_ROOT, "bin", "app"), release, { recursive: true });
        fs.writeFileSync(path.join(release, "hook.js"), HOOK_JS);
        await stack.stack.setConfig("blueArtifact", { value: release });
        await stack.stack.setConfig("greenArtifact", { value: release });
        await up();
    });

    after(async () => {
        await stack?.dispose();
    });

    it("a hook added while nothing goes live does not run; a switch runs each once, in order", async () => {
        await stack.stack.setConfig("preSwitchCommand", { value: command("ok") });
        await stack.stack.setConfig("postSwitchCommand", { value: command("ok") });
        const added = await up();
        assert.deepEqual(records(), [], "nothing went live: no hook ran");
        assert.match(added, /The pre-switch hook did not run: blue \(1\.0\.0\) was live already/);

        await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let preview = "";
        await stack.stack.preview({ onOutput: (text) => (preview += text) });
        assert.match(preview, /Plan: .*; pre-switch hook on green-1, post-switch hook on green-1 run/);
        let output = "";
        const run = await underLoad("switch to green with a migration and a notice hook", async () => {
            output = await up();
        });
        assertNothingLost(run, {
            area: "hooks",
            fault: "switch blue → green with a pre-switch migration hook and a post-switch notice hook",
            expected: "each hook once; the migration before traffic moved, the notice after; nothing lost",
        });
        const [pre, post, ...more] = records();
        assert.deepEqual(more, [], "each hook ran once");
        assert.equal(pre.hook, "pre-switch");
        assert.equal(pre.served, "blue", "the migration ran before traffic moved");
        assert.deepEqual(
            [pre.version, pre.color, pre.previousColor, pre.previousVersion],
            ["1.1.0", "green", "blue", "1.0.0"],
        );
        assert.match(pre.cwd, /\/releases\/1\.1\.0-/, "in the directory of the release going live");
        assert.deepEqual(pre.leaked, [], `no variable of the update reaches the hook: ${pre.leaked.join(" ")}`);
        assert.equal(post.hook, "post-switch");
        assert.equal(post.served, "green", "the notice ran after the switch");
        assert.match(output, /pre-switch: migration 0042 for 1\.1\.0 applied/, "its output is in the update's log");
        assert.match(output, /The pre-switch hook passed on green-1/);
        assert.equal(await liveColor(), "green");

        // Nothing goes live again: no hook runs, whatever else changes about them.
        await up();
        await stack.stack.setConfig("hookTimeoutSeconds", { value: "120" });
        const changed = await up();
        assert.match(changed, /The pre-switch hook did not run again: it ran when green \(1\.1\.0\) went live/);
        assert.equal(records().length, 2, "no hook ran again");
    });

    it("a failing migration hook fails the update with its output; traffic stays; fixed, it runs once", async () => {
        const before = records().length;
        await stack.stack.setConfig("preSwitchCommand", { value: command("fail") });
        await stack.stack.setConfig("activeColor", { value: "blue" });
        let output = "";
        const run = await underLoad("switch to blue, its migration hook fails", async () => {
            await assert.rejects(stack.stack.up({ onOutput: (text) => (output += text) }));
        });
        assertNothingLost(run, {
            area: "hooks",
            fault: "the pre-switch migration hook exits 3 during a switch green → blue",
            expected: "update fails with the hook's output; traffic stays on green; nothing lost",
        });
        assert.deepEqual(run.result.byColor, { green: run.result.ok }, "traffic never left green");
        assert.match(output, /migration 0042 failed: column orders\.note exists/);
        assert.match(
            output,
            /the pre-switch hook exited with status 3 on blue-1 .*Traffic was not moved: green stays live/,
        );
        assert.equal(await liveColor(), "green");
        assert.equal(records().length, before + 1, "the failed hook ran once; no post-switch hook ran");
        // Run again unchanged (the database fixed by hand, say): the hook is tried again first.
        await assert.rejects(stack.stack.up({ onOutput: () => undefined }));
        assert.equal(records().length, before + 2, "a failed hook runs again at the next update");
        assert.equal(await liveColor(), "green");

        await stack.stack.setConfig("preSwitchCommand", { value: command("ok") });
        await up();
        const after = records().slice(before + 2);
        assert.deepEqual(
            after.map((r) => `${r.hook} ${r.color} served=${r.served}`),
            ["pre-switch blue served=green", "post-switch blue served=blue"],
        );
        assert.equal(await liveColor(), "blue");
    });

    it("a failing notice hook is a warning: traffic stays on the new colour; history shows the hooks", async () => {
        await stack.stack.setConfig("postSwitchCommand", { value: command("fail") });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        const run = await underLoad("switch to green, its notice hook fails", async () => {
            output = await up();
        });
        assertNothingLost(run, {
            area: "hooks",
            fault: "the post-switch notice hook exits 3 after a switch blue → green",
            expected: "update succeeds with a warning; traffic on green from the switch on; nothing lost",
        });
        const green = run.result.byColor.green ?? 0;
        assert.ok(green > 0 && green + (run.result.byColor.blue ?? 0) === run.result.ok, "traffic moved to green");
        assert.match(output, /WARNING: the post-switch hook exited with status 3 on green-1 after [\d.]+s\./);
        assert.match(output, /Traffic stays on green: a failed post-switch hook never moves it back/);
        assert.equal(await liveColor(), "green");

        const { rows, printed } = historyTable(stack);
        // The hooks are the seventh column.
        const hooks = rows.filter((row) => /^\d+$/.test(row[0])).map((row) => row[6]);
        assert.match(hooks.at(-1) ?? "", /^pre-switch ok [\d.]+ s, post-switch FAILED \(exit 3\)$/, printed);
        assert.equal(hooks.filter((cell) => /pre-switch ok/.test(cell)).length, 3, printed);
    });

    it("a switch that fails after its migration passed does not run it again when retried", async () => {
        await stack.stack.setConfig("postSwitchCommand", { value: command("ok") });
        await stack.stack.setConfig("smokePaths", { value: JSON.stringify(["/", "/no-such-page"]) });
        await stack.stack.setConfig("activeColor", { value: "blue" });
        const before = records().length;
        await assert.rejects(stack.stack.up({ onOutput: () => undefined }), /no-such-page/);
        assert.equal(await liveColor(), "green", "the failed smoke check put green back");
        assert.deepEqual(
            records()
                .slice(before)
                .map((r) => `${r.hook} ${r.color}`),
            ["pre-switch blue"],
            "the migration ran, the notice did not",
        );
        await stack.stack.setConfig("smokePaths", { value: JSON.stringify(["/"]) });
        await up();
        assert.equal(await liveColor(), "blue");
        assert.deepEqual(
            records()
                .slice(before)
                .map((r) => `${r.hook} ${r.color} served=${r.served}`),
            ["pre-switch blue served=green", "post-switch blue served=blue"],
            "the retried switch ran the notice only: the migration had run for this release",
        );
    });
});
