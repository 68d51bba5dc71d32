import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseSwitchResult } from "../../components/switchResult";
import { SCRIPTS, declaredEnvironment } from "../../components/scripts";
import { loadScript } from "../../components/templates";

const RESULT = {
    lastSwitch: "2026-11-26T08:21:55Z green",
    liveColor: "green",
    configId: "3f9a0c1d2e4b",
    nginx: "live-set",
    maintenance: "off",
    canary: "green 10",
    bake: "green answered 240 requests in 10s: 0.00% 5xx, p99 up to 0.005s",
};

const line = (value: object) => `bluegreen-result ${JSON.stringify(value)}`;

describe("the switch's result line", () => {
    it("is read from the last line of the switch's output", () => {
        const stdout = [
            "Gate passed: all 2 green host(s) ready in 12 ms",
            "Switching to green without a reload",
            "Switched: green is live (config 3f9a0c1d2e4b, no-reload mode)",
            "last-switch: 2026-11-26T08:21:55Z green",
            line(RESULT),
            "",
        ].join("\n");
        assert.deepEqual(parseSwitchResult(stdout), RESULT);
    });

    it("fails naming what is missing or wrong", () => {
        assert.throws(
            () => parseSwitchResult("last-switch: 2026-11-26T08:21:55Z green\n"),
            /no 'bluegreen-result' line/,
        );
        assert.throws(() => parseSwitchResult("bluegreen-result {lastSwitch}"), /not JSON/);
        const withoutConfigId: Partial<typeof RESULT> = { ...RESULT };
        delete withoutConfigId.configId;
        // The message quotes the whole line, which holds every key: match what it says is wrong.
        assert.throws(() => parseSwitchResult(line(withoutConfigId)), /lacks configId:/);
        assert.throws(() => parseSwitchResult(line({ ...RESULT, nginx: "restarted" })), /misstates nginx/);
        assert.throws(() => parseSwitchResult(line({ ...RESULT, lastSwitch: "green" })), /misstates lastSwitch/);
        assert.throws(() => parseSwitchResult(line({ ...RESULT, liveColor: "red" })), /misstates liveColor/);
        assert.throws(() => parseSwitchResult(line({ ...RESULT, maintenance: "yes" })), /misstates maintenance/);
        assert.throws(() => parseSwitchResult(line({ ...RESULT, canary: "green" })), /misstates canary/);
        // A result from before canaries existed: none ran.
        const { canary: _canary, ...older } = RESULT;
        assert.equal(parseSwitchResult(line(older)).canary, "off");
    });

    it("is what switch-lib.sh prints when a switch succeeds", () => {
        const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-result-"));
        try {
            fs.mkdirSync(path.join(prefix, "conf"));
            const vars = declaredEnvironment(SCRIPTS.nginxSwitch, {
                NGINX_PREFIX: prefix,
                NGINX_CONF: "events {}",
                CONFIG_ID: "3f9a0c1d2e4b",
                SWITCH_MODE: "reload",
                LIVE_COLOR: "blue",
                VERIFY_URL: "http://127.0.0.1:1",
                INTERNAL_URL: "http://127.0.0.1:1",
                SMOKE_PATHS: "/",
                VERIFY_TIMEOUT_SECONDS: "1",
                HEALTH_INTERVAL_MS: "50",
                POOL_COLOR: "blue",
                EXPECT_VERSION: "1.0.0",
                GATE_TIMEOUT_SECONDS: "1",
                BASE_DIR: prefix,
            });
            const script = loadScript("switch-lib.sh");
            const run = spawnSync("bash", ["-c", `${script.text}\nrecord_live\nreport_switched 0 0 0 0`, script.name], {
                encoding: "utf8",
                env: {
                    PATH: process.env.PATH ?? "/usr/bin:/bin",
                    ...vars,
                },
            });
            assert.equal(run.status, 0, run.stderr);
            const result = parseSwitchResult(run.stdout);
            assert.match(result.lastSwitch, / blue$/);
            assert.deepEqual(
                { ...result, lastSwitch: "" },
                {
                    lastSwitch: "",
                    liveColor: "blue",
                    configId: "3f9a0c1d2e4b",
                    nginx: "unchanged",
                    maintenance: "off",
                    canary: "off",
                    bake: "",
                },
            );
            assert.ok(run.stdout.trimEnd().split("\n").at(-1)!.startsWith("bluegreen-result "), "the last line");
        } finally {
            fs.rmSync(prefix, { recursive: true, force: true });
        }
    });
});
