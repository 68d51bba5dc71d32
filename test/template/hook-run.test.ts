// A switch hook's script (templates/scripts/hook-run.sh) run by bash on this machine, against a
// release directory: it runs the command there in a clean environment, bounded by its timeout,
// keeps the whole output on the host, and fails or warns as told; nothing runs where nothing
// goes live.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseHookResult } from "../../components/hookResult";
import { SCRIPTS } from "../../components/scripts";
import { runHostScript } from "../support/hostScript";

describe("a switch hook on its host (hook-run.sh)", function () {
    this.timeout(30_000);
    let hostDir: string;

    beforeEach(() => {
        hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-hook-"));
        const release = path.join(hostDir, "releases", "1.1.0-abcd");
        fs.mkdirSync(release, { recursive: true });
        fs.writeFileSync(
            path.join(release, "hook.sh"),
            '#!/bin/sh\nseq 1 100\necho "in $(pwd) as $HOOK for $APP_VERSION ($POOL_COLOR, before: $PREVIOUS_COLOR ' +
                '$PREVIOUS_VERSION) secret=${DEPLOY_SECRET:-none}"\ncase $1 in\n' +
                "  fail) echo 'migration failed' >&2; exit 4;;\n  hang) exec sleep 60;;\nesac\n",
            { mode: 0o755 },
        );
    });

    afterEach(() => fs.rmSync(hostDir, { recursive: true, force: true }));

    function hook(command: string, overrides: Record<string, string> = {}) {
        const started = Date.now();
        const run = runHostScript(
            SCRIPTS.hookRun,
            {
                HOOK: "pre-switch",
                HOOK_COMMAND: command,
                HOOK_TIMEOUT_SECONDS: "10",
                HOOK_FAILURE: "fail",
                HOST_NAME: "green-1",
                HOST_DIR: hostDir,
                RELEASE_ID: "1.1.0-abcd",
                APP_VERSION: "1.1.0",
                POOL_COLOR: "green",
                GOING_LIVE: "true",
                PREVIOUS_COLOR: "blue",
                PREVIOUS_VERSION: "1.0.0",
                ...overrides,
            },
            // What the update has in its environment must not reach the hook.
            { timeoutMs: 25_000, env: { DEPLOY_SECRET: "s3cr3t" } },
        );
        return { ...run, ms: Date.now() - started };
    }

    it("runs in the release's directory with the release's variables only; prints the last lines, keeps all", () => {
        const run = hook("./hook.sh");
        assert.equal(run.code, 0, run.output);
        const release = path.join(hostDir, "releases", "1.1.0-abcd");
        assert.match(
            run.output,
            new RegExp(`in ${release} as pre-switch for 1\\.1\\.0 \\(green, before: blue 1\\.0\\.0\\)`),
        );
        assert.match(run.output, /secret=none/, "the update's own variables stay out");
        assert.match(run.output, /\| 100\n/);
        assert.doesNotMatch(run.output, /\| 60\n/, "only the last 40 lines reach the update's log");
        const [kept] = fs.readdirSync(path.join(hostDir, "hooks"));
        assert.match(kept, /^\d{8}T\d{6}Z-pre-switch-1\.1\.0\.log$/);
        assert.match(fs.readFileSync(path.join(hostDir, "hooks", kept), "utf8"), /^1\n2\n/m, "the whole output stays");
        const result = parseHookResult(run.stdout);
        assert.deepEqual(
            { ...result, seconds: 0, ranAt: "" },
            {
                hook: "pre-switch",
                ran: true,
                exitStatus: 0,
                seconds: 0,
                color: "green",
                version: "1.1.0",
                ranAt: "",
            },
        );
        assert.match(result.ranAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it("a failure fails, saying traffic was not moved; as a warning it passes saying traffic stays", () => {
        const failed = hook("./hook.sh fail");
        assert.equal(failed.code, 1);
        assert.match(failed.output, /migration failed/);
        assert.match(
            failed.output,
            /the pre-switch hook exited with status 4 on green-1 .*Traffic was not moved: blue stays live/,
        );
        const warned = hook("./hook.sh fail", { HOOK: "post-switch", HOOK_FAILURE: "warn" });
        assert.equal(warned.code, 0, warned.output);
        assert.match(warned.output, /WARNING: the post-switch hook exited with status 4 on green-1/);
        assert.equal(parseHookResult(warned.stdout).exitStatus, 4);
    });

    it("a hook past its timeout is stopped and fails saying so", () => {
        const run = hook("./hook.sh hang", { HOOK_TIMEOUT_SECONDS: "1" });
        assert.equal(run.code, 1);
        assert.match(run.output, /the pre-switch hook did not finish within 1s and was stopped/);
        assert.ok(run.ms < 10_000, `stopped after ${run.ms} ms`);
    });

    it("runs nothing where nothing goes live", () => {
        const run = hook("./hook.sh fail", { GOING_LIVE: "false" });
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /The pre-switch hook did not run: green \(1\.1\.0\) was live already/);
        assert.equal(parseHookResult(run.stdout).ran, false);
        assert.ok(!fs.existsSync(path.join(hostDir, "hooks")), "nothing was run");
    });
});
