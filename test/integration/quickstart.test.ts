// The README's quick start, as a newcomer runs it, in a fresh clone of this repository:
// `npm start`, then `source .envrc` and the plain pulumi commands, then `npm stop`.
// The clone is of the committed HEAD. It gets its own ports (three lines added to its
// Pulumi.local.yaml) and its own PULUMI_HOME, so that its bootstrap builds and registers the
// official command plugin there, from the source tarball, as on a machine that has none.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePorts, getJson, runningFrom } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";

describe("quick start: npm start, the README's commands, npm stop, in a fresh clone", function () {
    let dir: string;
    let clone: string;
    let env: NodeJS.ProcessEnv;
    let publicUrl: string;

    /** Runs a command line in the clone as a user's shell would; returns its status and output. */
    function shell(commandLine: string, timeoutMs = 300_000): { status: number; output: string } {
        const result = spawnSync("bash", ["-c", commandLine], {
            cwd: clone,
            env,
            encoding: "utf8",
            timeout: timeoutMs,
            maxBuffer: 64 * 1024 * 1024,
        });
        return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
    }

    async function liveColor(): Promise<string> {
        return String((await getJson(`${publicUrl}/`)).headers["x-deploy-color"]);
    }

    /** Processes of the clone's local stack that still run. */
    const runningPids = () => runningFrom(path.join(clone, ".state", "local"));

    before(function () {
        this.timeout(120_000);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-quickstart-"));
        fs.chmodSync(dir, 0o755); // the apps and nginx workers run as users of their own as root
        clone = path.join(dir, "clone");
        const cloned = spawnSync("git", ["clone", "--quiet", REPO_ROOT, clone], { encoding: "utf8" });
        assert.equal(cloned.status, 0, cloned.stderr);
        // The dependencies npm ci would install, hard-linked from this checkout to save the
        // download; npm's own marker file is copied so the clone's setup sees them as current.
        spawnSync("cp", ["-al", path.join(REPO_ROOT, "node_modules"), path.join(clone, "node_modules")]);
        fs.rmSync(path.join(clone, "node_modules", ".package-lock.json"));
        fs.copyFileSync(
            path.join(REPO_ROOT, "node_modules", ".package-lock.json"),
            path.join(clone, "node_modules", ".package-lock.json"),
        );
        env = { ...process.env, PULUMI_HOME: path.join(dir, "pulumi-home") };
        // The clone has no ../shared beside it: name the command plugin's source as docs/setup.md says.
        env.BLUEGREEN_COMMAND_PLUGIN_SOURCE ??= path.resolve(
            REPO_ROOT,
            "..",
            "shared",
            "vendor",
            "pulumi-command-1.2.1-src.tar.gz",
        );
        delete env.PULUMI_BACKEND_URL;
        delete env.PULUMI_CONFIG_PASSPHRASE;
    });

    after(function () {
        this.timeout(120_000);
        if (!clone) return;
        if (runningPids().length > 0) shell("npm stop", 60_000); // a failed test left the stack up
        for (const pid of runningPids()) process.kill(pid, "SIGKILL");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("npm start sets everything up and serves blue; .envrc makes the plain pulumi commands work", async function () {
        this.timeout(600_000);
        const ports = await freePorts(2);
        fs.appendFileSync(
            path.join(clone, "Pulumi.local.yaml"),
            `  bluegreen:publicPort: "${ports.publicPort}"\n` +
                `  bluegreen:internalPort: "${ports.internalPort}"\n` +
                `  bluegreen:appBasePort: "${ports.base}"\n`,
        );
        publicUrl = `http://127.0.0.1:${ports.publicPort}`;
        const started = shell("npm start");
        assert.equal(started.status, 0, started.output.slice(-4000));
        assert.match(
            started.output,
            new RegExp(
                `The local blue-green stack is serving: ${publicUrl.replace(/[.:/]/g, "\\$&")}  \\(live: blue\\)`,
            ),
        );
        assert.match(started.output, /pulumi config set activeColor green/, "it prints the next commands");
        assert.equal(await liveColor(), "blue");
        const envrc = fs.readFileSync(path.join(clone, ".envrc"), "utf8");
        assert.match(
            envrc,
            new RegExp(`PULUMI_BACKEND_URL="file://${clone.replace(/[.:/]/g, "\\$&")}/\\.state/backend"`),
            "the backend is inside the project",
        );
        assert.match(envrc, /PULUMI_SKIP_UPDATE_CHECK=true/);
        assert.match(
            envrc,
            new RegExp(`PULUMI_HOME="${dir.replace(/[.:/]/g, "\\$&")}/pulumi-home"`),
            "the plain commands use the same Pulumi home",
        );
        const plugin = shell("bash scripts/toolchain/command-plugin.sh verify");
        assert.equal(plugin.status, 0, plugin.output);
        assert.equal(
            plugin.output.trim().split("\n").pop(),
            path.join(dir, "pulumi-home", "plugins", "resource-command-v1.2.1", "pulumi-resource-command"),
            "the official plugin, in this PULUMI_HOME",
        );
        const status = shell("git status --porcelain");
        assert.equal(
            status.output.trim(),
            "",
            "npm start leaves nothing for git to commit (Pulumi.local.yaml's salt and secret are skipped)",
        );
    });

    it("the README's switch, preview, rollback and history commands work as written", async function () {
        this.timeout(300_000);
        const idle = shell("source .envrc && pulumi config set greenVersion 1.0.1 && pulumi up --yes");
        assert.equal(idle.status, 0, idle.output.slice(-3000));
        assert.equal(await liveColor(), "blue", "a deploy to the idle pool leaves blue live");

        const chosen = shell("source .envrc && pulumi config set activeColor green && pulumi preview --diff");
        assert.equal(chosen.status, 0, chosen.output.slice(-3000));
        assert.match(chosen.output, /LIVE_COLOR\s*:\s*"blue" => "green"/, "the preview shows the pending switch");
        assert.equal(await liveColor(), "blue", "a preview changes nothing");

        const switched = shell("source .envrc && pulumi up --yes");
        assert.equal(switched.status, 0, switched.output.slice(-3000));
        assert.equal(await liveColor(), "green");
        assert.equal((await getJson<{ version: string }>(`${publicUrl}/`)).body.version, "1.0.1");

        const rolledBack = shell("source .envrc && pulumi config set activeColor blue && pulumi up --yes");
        assert.equal(rolledBack.status, 0, rolledBack.output.slice(-3000));
        assert.equal(await liveColor(), "blue");

        const history = shell("source .envrc && pulumi stack history");
        assert.equal(history.status, 0, history.output);
        assert.equal(
            (history.output.match(/UpdateKind: update/g) ?? []).length,
            4,
            `npm start, the deploy, the switch and the rollback:\n${history.output}`,
        );
        assert.equal((history.output.match(/Status: succeeded/g) ?? []).length, 4);
        assert.match(history.output, /Message: npm start/);
    });

    it("npm stop destroys the stack and leaves no process behind", async function () {
        this.timeout(120_000);
        assert.ok(runningPids().length >= 5, "nginx and four apps run before npm stop");
        const stopped = shell("npm stop");
        assert.equal(stopped.status, 0, stopped.output.slice(-3000));
        assert.match(stopped.output, /stopped: no process of the local stack is running/);
        assert.deepEqual(runningPids(), []);
        await assert.rejects(getJson(`${publicUrl}/`), "nothing listens on the public port any more");
    });
});
