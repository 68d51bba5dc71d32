// The pool host's deploy script (templates/scripts/deploy-host.sh) run by bash on this machine:
// what it refuses to run, and how it waits for a release to be ready. The release runs for real
// only where the test needs it to: the reference app, checking Host.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SCRIPTS, declaredEnvironment, declaredScript } from "../../components/scripts";
import { freePorts } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";
import { needsRoot } from "../support/root";

describe("deploy of a pool host: what it trusts, and what it waits for", () => {
    let dir: string;
    let hostDir: string;
    const releaseId = "1.0.0-planted";

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-deploy-host-"));
        hostDir = path.join(dir, "host-1");
        fs.mkdirSync(path.join(hostDir, "releases"), { recursive: true, mode: 0o755 });
    });

    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

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

    function deploy(overrides: Record<string, string> = {}): { code: number | null; output: string } {
        const script = declaredScript(SCRIPTS.deployHost);
        const artifact = path.join(dir, "artifact");
        fs.mkdirSync(artifact, { recursive: true });
        const result = spawnSync("bash", ["-c", script.text, script.name], {
            encoding: "utf8",
            timeout: 20_000,
            env: {
                PATH: process.env.PATH,
                ...declaredEnvironment(SCRIPTS.deployHost, {
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
                }),
            },
        });
        return { code: result.status, output: `${result.stdout}${result.stderr}` };
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

    it("refuses a releases directory others can write", () => {
        fs.chmodSync(path.join(hostDir, "releases"), 0o777);
        const run = deploy();
        assert.equal(run.code, 1, run.output);
        assert.match(run.output, /releases is a symlink, is not owned by \w+, or others can write it/);
        assert.deepEqual(fs.readdirSync(path.join(hostDir, "releases")), [], "nothing was unpacked there");
    });
});
