// The pool host's deploy script (templates/scripts/deploy-host.sh) run by bash on this machine:
// what it refuses to run, how it waits for a release to be ready, and what runs after a release
// that never became ready. The release runs for real only where the test needs it to: the
// reference app checking Host, and small apps that warm up slowly, never get ready or exit.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SCRIPTS, type ScriptInputs } from "../../components/scripts";
import { freePorts } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";
import { type ScriptRun, runHostScript, startHostScript } from "../support/hostScript";
import { needsRoot } from "../support/root";

/** The pid a pid file names, or 0. */
function pidIn(file: string): number {
    try {
        return Number(fs.readFileSync(file, "utf8").trim()) || 0;
    } catch {
        return 0;
    }
}

/** PID runs: it exists and is not a zombie waiting to be reaped. */
function running(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
    } catch {
        return false;
    }
}

/** GET /health on a fresh connection: its status and JSON body; status 0 when nothing answered within 1 s. */
function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolve) => {
        const request = http.get({ host: "127.0.0.1", port, path: "/health", agent: false, timeout: 1000 }, (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => (text += chunk.toString()));
            res.on("end", () => {
                let body: Record<string, unknown> = {};
                try {
                    body = JSON.parse(text) as Record<string, unknown>;
                } catch {
                    // Not JSON: the status says enough.
                }
                resolve({ status: res.statusCode ?? 0, body });
            });
        });
        request.on("timeout", () => request.destroy());
        request.on("error", () => resolve({ status: 0, body: {} }));
    });
}

describe("deploy of a pool host: what it trusts, and what it waits for", () => {
    let dir: string;
    let hostDir: string;
    const releaseId = "1.0.0-planted";

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-deploy-host-"));
        hostDir = path.join(dir, "host-1");
        fs.mkdirSync(path.join(hostDir, "releases"), { recursive: true, mode: 0o755 });
    });

    afterEach(() => {
        // A failed test may leave an app running: the pid file names the host's one.
        const pid = pidIn(path.join(hostDir, "app.pid"));
        if (pid > 1 && running(pid)) process.kill(pid, "SIGKILL");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** A release directory someone else put where the next deploy will look, with a start marker. */
    function plant(releaseDir: string, owner?: number, mode = 0o755): string {
        const marker = path.join(dir, "planted-ran");
        fs.mkdirSync(releaseDir, { recursive: true });
        fs.writeFileSync(path.join(releaseDir, "start.sh"), `#!/bin/sh\ntouch ${marker}\nexec sleep 30\n`, {
            mode: 0o755,
        });
        fs.chmodSync(releaseDir, mode);
        if (owner !== undefined) fs.chownSync(releaseDir, owner, owner);
        return marker;
    }

    /**
     * A release directory holding server.js, an app of the health contract (status, version, pid,
     * instance): ready warmMs after it starts, or never (503 "failing"); it exits on SIGTERM unless
     * told to ignore it. Its second start (the restart after a failed deploy) can exit at once or
     * take ten minutes to warm up.
     */
    function app(
        name: string,
        options: { warmMs?: number; neverReady?: boolean; ignoreTerm?: boolean; secondStart?: "exit" | "slow" },
    ): string {
        const release = path.join(dir, "apps", name);
        fs.mkdirSync(release, { recursive: true });
        const settings = { marker: `${release}.started`, warmMs: 0, neverReady: false, ignoreTerm: false, ...options };
        const code = `const fs = require("node:fs");
const http = require("node:http");
const settings = ${JSON.stringify(settings)};
const started = Date.now();
const second = fs.existsSync(settings.marker);
fs.writeFileSync(settings.marker, "");
if (second && settings.secondStart === "exit") {
    console.error("refusing a second start (the test asks for it)");
    process.exit(3);
}
const warmMs = second && settings.secondStart === "slow" ? 600000 : settings.warmMs;
http.createServer((req, res) => {
    const ready = !settings.neverReady && Date.now() - started >= warmMs;
    const status = settings.neverReady ? "failing" : ready ? "ready" : "starting";
    const body = { status, version: process.env.APP_VERSION, instance: process.env.INSTANCE_ID, pid: process.pid };
    res.writeHead(req.url === "/health" ? (ready ? 200 : 503) : 404, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
}).listen(Number(process.env.PORT), process.env.BIND_ADDRESS);
process.on("SIGTERM", () => (settings.ignoreTerm ? console.log("ignoring SIGTERM") : process.exit(0)));
`;
        fs.writeFileSync(path.join(release, "server.js"), code);
        return release;
    }

    function deploy(overrides: Record<string, string> = {}, timeoutMs = 20_000): ScriptRun {
        return runHostScript(SCRIPTS.deployHost, inputs(overrides), { timeoutMs });
    }

    /** deploy(), without blocking: the test polls /health meanwhile. Killed after timeoutMs. */
    function deployAsync(overrides: Record<string, string>, timeoutMs: number): Promise<ScriptRun> {
        return startHostScript(SCRIPTS.deployHost, inputs(overrides), { timeoutMs });
    }

    function inputs(overrides: Record<string, string>): ScriptInputs<typeof SCRIPTS.deployHost, string> {
        const artifact = path.join(dir, "artifact");
        fs.mkdirSync(artifact, { recursive: true });
        return {
            HOST_NAME: "blue-1",
            HOST_DIR: hostDir,
            DRAIN_TIMEOUT_SECONDS: "2",
            UNIT_TEXT: "",
            PORT: "1",
            BIND_ADDRESS: "127.0.0.1",
            POOL_COLOR: "blue",
            DRAIN_TOKEN_FILE: path.join(hostDir, "drain-token"),
            START_COMMAND: "./start.sh",
            APP_VERSION: "1.0.0",
            RELEASE_ID: releaseId,
            ARTIFACT: artifact,
            READY_TIMEOUT_SECONDS: "2",
            HEALTH_INTERVAL_MS: "100",
            SUPERVISOR: "process",
            BASE_DIR: hostDir,
            ...overrides,
        };
    }

    it("never runs a release directory planted under the next release's id", function () {
        // Planting as another user needs root to chown; CI runs as root (BLUEGREEN_REQUIRE_NETNS).
        needsRoot(this, "planting a directory as another user needs root");
        const nobody = 65534;
        const refused: string[] = [];
        for (const [what, owner, mode] of [
            ["owned by another user", nobody, 0o755],
            ["writable by others", undefined, 0o777],
        ] as const) {
            const releaseDir = path.join(hostDir, "releases", releaseId);
            fs.rmSync(releaseDir, { recursive: true, force: true });
            const marker = plant(releaseDir, owner, mode);
            const run = deploy();
            assert.equal(run.code, 1, run.output);
            assert.match(
                run.output,
                new RegExp(`blue-1: ${releaseDir} is a symlink, is not owned by \\w+, or others can write it`),
            );
            assert.ok(!fs.existsSync(marker), `the planted release (${what}) never ran`);
            refused.push(what);
        }
        // A symlink in its place (to a directory the attacker owns) is refused too.
        const elsewhere = path.join(dir, "elsewhere");
        const marker = plant(elsewhere, nobody);
        fs.rmSync(path.join(hostDir, "releases", releaseId), { recursive: true, force: true });
        fs.symlinkSync(elsewhere, path.join(hostDir, "releases", releaseId));
        const run = deploy();
        assert.equal(run.code, 1, run.output);
        assert.match(run.output, /is a symlink/);
        assert.ok(!fs.existsSync(marker), "the symlinked release never ran");
        refused.push("a symlink");
        recordOutcome({
            area: "security",
            fault: "plant the next release's directory on a host: owned by another user, world-writable, a symlink",
            expected: "the deploy refuses it naming the directory; nothing of it runs",
            observed: `refused ${refused.join(", ")}; none ran`,
            sent: 0,
            lost: 0,
        });
    });

    it("sends HOST_HEADER to an app that checks Host; without it the 421 fails the wait at once", async () => {
        const port = (await freePorts(1)).publicPort;
        const app = {
            ARTIFACT: path.join(REPO_ROOT, "bin", "app"),
            START_COMMAND: "env ALLOWED_HOSTS=shop.example.test node server.js",
            PORT: String(port),
            READY_TIMEOUT_SECONDS: "20",
        };
        try {
            const served = deploy({ ...app, HOST_HEADER: "shop.example.test" });
            assert.equal(served.code, 0, served.output);
            assert.match(served.output, /Deployed 1\.0\.0 to blue-1 \(pid \d+\), ready after \d+ ms/);

            // The same app, asked for 127.0.0.1 (the first `pulumi up`): a final answer.
            const refused = deploy({ ...app, RELEASE_ID: "1.0.0-again" });
            assert.equal(refused.code, 1, refused.output);
            const waited = /\/health answered 421 after (\d+) ms, which waiting cannot change/.exec(refused.output);
            assert.ok(waited, refused.output);
            assert.ok(Number(waited[1]) < 20_000, "it did not wait out READY_TIMEOUT_SECONDS");
            assert.match(refused.output, /this app does not serve host '127\.0\.0\.1'/);
            assert.match(refused.output, /pulumi config set --path 'hostNames\[0\]' <the name>/);
        } finally {
            // A failed deploy stops what it started; the pid file names anything left.
            const pidFile = path.join(hostDir, "app.pid");
            const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8")) : 0;
            if (pid > 1) process.kill(pid, "SIGKILL");
        }
    });

    it("stops a never-ready release at once and waits for the slow previous one until it is ready again", async () => {
        const port = (await freePorts(1)).publicPort;
        // A drain timeout far above the quick stop's few seconds: a full drain would show.
        const common = { PORT: String(port), START_COMMAND: "node server.js", DRAIN_TIMEOUT_SECONDS: "20" };
        const warmMs = 4000;
        const readyTimeout = 2; // shorter than the previous release's warm-up
        const first = deploy({
            ...common,
            ARTIFACT: app("slow", { warmMs }),
            RELEASE_ID: "1.0.0-slow",
            READY_TIMEOUT_SECONDS: "20",
        });
        assert.equal(first.code, 0, first.output);
        const record = path.join(hostDir, "warm-up", "1.0.0-slow");
        const warmUp = Number(fs.readFileSync(record, "utf8"));
        assert.ok(warmUp >= warmMs && warmUp < warmMs + 3000, `recorded warm-up ${warmUp} ms`);
        assert.equal(fs.statSync(record).mode & 0o777, 0o600, "the record is private");

        // The host's /health, polled from outside while the deploy runs (and after, until it answers
        // ready, for at most 3 s: the script returns a moment after it saw ready): when was 1.0.0 ready?
        const samples: { at: number; ready: boolean }[] = [];
        let pollUntil = Infinity;
        const poller = (async () => {
            while (Date.now() < pollUntil && !(pollUntil < Infinity && samples.at(-1)?.ready)) {
                const at = Date.now();
                const answer = await health(port);
                samples.push({ at, ready: answer.status === 200 && answer.body.version === "1.0.0" });
                await sleep(100);
            }
        })();
        const run = await deployAsync(
            {
                ...common,
                ARTIFACT: app("never", { neverReady: true, ignoreTerm: true }),
                APP_VERSION: "2.0.0",
                RELEASE_ID: "2.0.0-never",
                READY_TIMEOUT_SECONDS: String(readyTimeout),
            },
            60_000,
        );
        const after = await health(port);
        pollUntil = Date.now() + 3000;
        await poller;

        assert.equal(run.code, 1, run.output);
        assert.doesNotMatch(run.output, /failed too/);
        assert.match(run.output, /blue-1 \(127\.0\.0\.1:\d+\) not ready after 2s: last \/health answered 503/);
        // The never-ready release: SIGTERM ignored, killed after 5 s, not drained for 20 + 5 s.
        const stopping = /Stopping blue-1 \(pid (\d+)\): it never became ready.*SIGKILL after 5s/.exec(run.output);
        assert.ok(stopping, run.output);
        assert.match(run.output, /still running 5s after SIGTERM; killing it/);
        const stopped = /Stopped blue-1 \(pid \d+\) after (\d+) ms/.exec(run.output);
        assert.ok(stopped, run.output);
        const stopMs = Number(stopped[1]);
        assert.ok(stopMs >= 4500 && stopMs < 8000, `stopped after ${stopMs} ms, well under the 20 s drain`);
        assert.ok(!running(Number(stopping[1])), "the never-ready release is gone");
        // The previous release, waited for twice its recorded warm-up + 5 s (at most 2 * 2 + 5 s).
        const twice = Math.ceil((2 * warmUp) / 1000) + 5;
        const expectedWait = Math.min(Math.max(readyTimeout, twice), 2 * readyTimeout + 5);
        assert.match(
            run.output,
            new RegExp(`Restarting the previous release 1\\.0\\.0-slow on blue-1 \\(waiting up to ${expectedWait}s\\)`),
        );
        const back = new RegExp(
            /The previous release 1\.0\.0 runs again \(pid (\d+), ready after (\d+) ms\); /.source +
                /blue-1 had no ready release for (\d+\.\d) s\./.source,
        ).exec(run.output);
        assert.ok(back, run.output);
        const [backPid, backReadyMs, gapMs] = [Number(back[1]), Number(back[2]), Math.round(Number(back[3]) * 1000)];
        assert.ok(backReadyMs >= warmMs, `ready after ${backReadyMs} ms: it was waited for past READY_TIMEOUT_SECONDS`);

        // Right after the script: the previous release answers ready, as the message says.
        assert.equal(after.status, 200, JSON.stringify(after.body));
        assert.equal(after.body.status, "ready");
        assert.equal(after.body.version, "1.0.0");
        assert.equal(after.body.pid, backPid);
        assert.equal(pidIn(path.join(hostDir, "app.pid")), backPid);

        // The gap: the new release's wait + the quick stop + the warm-up, and a little. A full
        // drain of the never-ready release alone would take 25 s.
        const bound = (readyTimeout + 5) * 1000 + warmMs + 3000;
        assert.ok(gapMs < bound, `no ready release for ${gapMs} ms (bound ${bound} ms)`);
        // Measured from outside: the last ready answer before the deploy, the first one after.
        const lastReady = samples.findIndex((sample) => !sample.ready) - 1;
        assert.ok(lastReady >= 0, "1.0.0 answered ready before the deploy");
        const readyAgain = samples.slice(lastReady + 1).find((sample) => sample.ready);
        assert.ok(readyAgain, "1.0.0 answered ready again while polled");
        const polledGapMs = readyAgain.at - samples[lastReady].at;
        assert.ok(Math.abs(polledGapMs - gapMs) < 1500, `polled gap ${polledGapMs} ms, reported ${gapMs} ms`);
        assert.ok(polledGapMs < bound, `polled gap ${polledGapMs} ms (bound ${bound} ms)`);
        console.log(
            `      never-ready release stopped in ${stopMs} ms (drain timeout 20 s); previous release ready after ` +
                `${backReadyMs} ms (warm-up ${warmMs} ms, ready timeout ${readyTimeout} s, waited up to ` +
                `${expectedWait} s); no ready release for ${gapMs / 1000} s reported, ${polledGapMs} ms polled`,
        );
        recordOutcome({
            area: "fault",
            fault:
                "deploy a release that never becomes ready (and ignores SIGTERM) to a host whose previous release " +
                `takes ${warmMs / 1000} s to warm up, with a ${readyTimeout} s ready timeout and a 20 s drain timeout`,
            expected:
                "the never-ready release is killed within 5 s; the previous one runs again and is waited for " +
                "until ready; the message says so and how long the host had no ready release",
            observed:
                `stopped in ${stopMs} ms; 1.0.0 ready again after ${backReadyMs} ms; no ready release for ` +
                `${gapMs / 1000} s (reported), ${(polledGapMs / 1000).toFixed(1)} s (polled)`,
            sent: 0,
            lost: 0,
        });
    });

    it("says so when the previous release exits on its restart: the host runs no release", async () => {
        const port = (await freePorts(1)).publicPort;
        const common = { PORT: String(port), START_COMMAND: "node server.js" };
        const first = deploy({
            ...common,
            ARTIFACT: app("once", { secondStart: "exit" }),
            RELEASE_ID: "1.0.0-once",
            READY_TIMEOUT_SECONDS: "10",
        });
        assert.equal(first.code, 0, first.output);
        const run = deploy({
            ...common,
            ARTIFACT: app("never", { neverReady: true }),
            APP_VERSION: "2.0.0",
            RELEASE_ID: "2.0.0-never",
        });
        assert.equal(run.code, 1, run.output);
        assert.match(
            run.output,
            new RegExp(
                /The previous release 1\.0\.0 was started again, but the process \(pid \d+\) exited before it was /
                    .source + /ready; last lines of \S+\/app\.log: .*refusing a second start/.source,
            ),
        );
        assert.match(run.output, /blue-1 runs no release now\./);
        assert.doesNotMatch(run.output, /failed too|runs again/);
        assert.equal((await health(port)).status, 0, "nothing answers on the host's port");
        assert.ok(!running(pidIn(path.join(hostDir, "app.pid"))), "nothing runs");
        recordOutcome({
            area: "fault",
            fault:
                "deploy a release that never becomes ready to a host whose previous release exits when started " +
                "again",
            expected: "the update fails saying the previous release exited (with its log) and the host runs no release",
            observed: "said so, with the log's last lines; nothing answers on the port",
            sent: 0,
            lost: 0,
        });
    });

    it("leaves a previous release that is still starting running, and says it runs but is not ready", async () => {
        const port = (await freePorts(1)).publicPort;
        const common = { PORT: String(port), START_COMMAND: "node server.js" };
        const first = deploy({
            ...common,
            ARTIFACT: app("late", { secondStart: "slow" }),
            RELEASE_ID: "1.0.0-late",
            READY_TIMEOUT_SECONDS: "10",
        });
        assert.equal(first.code, 0, first.output);
        const warmUp = Number(fs.readFileSync(path.join(hostDir, "warm-up", "1.0.0-late"), "utf8"));
        const run = deploy(
            {
                ...common,
                ARTIFACT: app("never", { neverReady: true }),
                APP_VERSION: "2.0.0",
                RELEASE_ID: "2.0.0-never",
            },
            30_000,
        );
        assert.equal(run.code, 1, run.output);
        const waited = Math.min(Math.max(2, Math.ceil((2 * warmUp) / 1000) + 5), 2 * 2 + 5);
        const runs = new RegExp(
            `The previous release 1\\.0\\.0 runs again \\(pid (\\d+)\\) but is not ready yet \\(not ready after ` +
                `${waited}s: last /health answered 503 .*"status":"starting".*\\)\\. It was left running`,
        ).exec(run.output);
        assert.ok(runs, run.output);
        assert.match(run.output, /the next pulumi up's health gate waits for it/);
        assert.doesNotMatch(run.output, /failed too|runs no release/);
        const pid = Number(runs[1]);
        assert.ok(running(pid), "the previous release was left running");
        assert.equal(pidIn(path.join(hostDir, "app.pid")), pid);
        const answer = await health(port);
        assert.equal(answer.status, 503);
        assert.deepEqual([answer.body.status, answer.body.version, answer.body.pid], ["starting", "1.0.0", pid]);
    });

    it("refuses a releases directory others can write", () => {
        fs.chmodSync(path.join(hostDir, "releases"), 0o777);
        const run = deploy();
        assert.equal(run.code, 1, run.output);
        assert.match(run.output, /releases is a symlink, is not owned by \w+, or others can write it/);
        assert.deepEqual(fs.readdirSync(path.join(hostDir, "releases")), [], "nothing was unpacked there");
    });
});
