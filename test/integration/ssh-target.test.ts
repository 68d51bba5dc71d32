// The ssh target across real network hops: five network namespaces on a private bridge (nginx,
// blue-1, blue-2, green-1, green-2), each with its own sshd and host key, its own address and
// its own deploy directory. The program deploys through SSH (remote.Command, CopyToRemote),
// and the local target's scenarios run again with load sent from the root namespace to the
// nginx namespace, every response counted. Needs root; CI runs as root and sets
// BLUEGREEN_REQUIRE_NETNS so that it can never skip there.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { LoadResult } from "../../scripts/lib/load";
import { TEST_DRAIN_TOKEN, getJson, request } from "../../scripts/lib/localStack";
import { assertDriftPutBack } from "../support/drift";
import { Lab, createLab, labOrSkip } from "../support/netns";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";
import { SSH_PUBLIC_PORT, SshStack, createSshStack } from "../support/sshStack";
import { servedCertificate, startTestCa } from "../support/acme";
import { echoedInstance } from "../../components/observe";
import { SshHosts } from "../../components/targets/ssh/hosts";
import { nginxWorkers } from "../support/nginxCheck";
import { assertNothingLost, measureUnderLoad } from "../support/traffic";

type Color = "blue" | "green";
const HOSTS = [1, 2];
const MACHINES = ["nginx", "blue-1", "blue-2", "green-1", "green-2"];
/** The apps check Host, as production frameworks do: every scenario runs with hostNames set. */
const NAME = "shop.example.test";
const asClient = { Host: NAME };

describe("ssh target, network-namespace hosts: deploy, switch, rollback, failures over SSH under load", function () {
    let lab: Lab | undefined;
    let stack: SshStack;
    const quiet = { onOutput: () => undefined };

    before(async function () {
        labOrSkip(this, "ssh target");
        lab = await createLab(MACHINES);
        stack = await createSshStack(lab, HOSTS.length, {
            hostNames: JSON.stringify([NAME]),
            appStartCommand: `env ALLOWED_HOSTS=${NAME} node server.js`,
        });
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
    });

    after(async () => {
        try {
            await stack?.dispose();
        } finally {
            lab?.teardown();
        }
    });

    /** A copy of the reference app whose server.js runs `prelude` first: a release that misbehaves on purpose. */
    function appVariant(name: string, prelude: string): string {
        const dir = path.join(stack.dir, name);
        fs.cpSync(path.join(REPO_ROOT, "bin", "app"), dir, { recursive: true });
        const server = path.join(dir, "server.js");
        fs.writeFileSync(server, `${prelude}\n${fs.readFileSync(server, "utf8")}`);
        return dir;
    }

    async function pids(color: Color): Promise<number[]> {
        return Promise.all(HOSTS.map(async (i) => (await stack.appStatus(color, i)).pid));
    }

    async function versions(color: Color): Promise<string[]> {
        return Promise.all(HOSTS.map(async (i) => (await stack.appStatus(color, i)).version));
    }

    async function liveColor(): Promise<string> {
        return String((await getJson(`${stack.publicUrl}/`, asClient)).headers["x-deploy-color"]);
    }

    /**
     * Runs `action` with a paced load from the root namespace through nginx's namespace: no
     * request may fail or be closed under a client, and the apps processed exactly the POSTs
     * that were answered. `extraPosts`: POSTs the test sent itself, outside the load.
     */
    async function underLoad(name: string, action: () => Promise<void>, extraPosts = 0): Promise<LoadResult> {
        const { result, postsProcessed } = await measureUnderLoad(
            {
                url: stack.publicUrl,
                name: `${name} (ssh)`,
                hostsPerPool: HOSTS.length,
                appStatus: (c, i) => stack.appStatus(c, i),
                headers: asClient,
            },
            action,
        );
        assert.deepEqual(result.failures, [], "every request nginx accepted got a complete 2xx");
        assert.equal(result.closedOnReuse, 0, "no keep-alive connection was closed under a client");
        assert.equal(
            postsProcessed - extraPosts,
            result.postOk,
            "every POST the apps completed was answered once, and every answered POST was processed once",
        );
        return result;
    }

    it("serves blue via nginx in its namespace; each host got its release over SSH in its own directory", async () => {
        assert.equal(await liveColor(), "blue");
        for (const color of ["blue", "green"] as Color[]) {
            for (const i of HOSTS) {
                const status = await stack.appStatus(color, i);
                assert.equal(status.status, "ready", `${color}-${i} is ready`);
                assert.equal(status.color, color);
            }
        }
        for (const name of MACHINES.filter((m) => m !== "nginx")) {
            const releases = fs.readdirSync(path.join(lab!.hosts[name].root, "app", "releases"));
            assert.equal(releases.length, 1, `${name} holds exactly its one release in its own directory`);
        }
        assert.ok(
            fs.existsSync(path.join(lab!.hosts.nginx.root, "nginx", "conf", "nginx.conf")),
            "nginx's config lives on the nginx host only",
        );
        assert.deepEqual(
            fs.readdirSync(lab!.remoteDir),
            [],
            "nothing was written to the root namespace's copy of the directory",
        );
        const outputs = await stack.stack.outputs();
        // Clients use the name; the tests reach it at the nginx host's address.
        assert.equal(outputs.publicUrl.value, `http://${NAME}:${new URL(stack.publicUrl).port}`);
        // The private key is a secret: the backend's files hold it only encrypted.
        const keyLine = lab!.privateKey.split("\n")[1];
        const backend = path.join(stack.dir, "backend");
        const leaking = (dir: string): string[] =>
            fs
                .readdirSync(dir, { withFileTypes: true })
                .flatMap((e) =>
                    e.isDirectory()
                        ? leaking(path.join(dir, e.name))
                        : fs.readFileSync(path.join(dir, e.name)).includes(keyLine)
                          ? [e.name]
                          : [],
                );
        assert.deepEqual(leaking(backend), [], "no state file holds the SSH private key in plain text");
        assert.deepEqual(
            outputs.pools.value.green.hosts,
            HOSTS.map((i) => `${lab!.hosts[`green-${i}`].address}:3000`),
        );
    });

    it("off the nginx host: no internal listener; clients pick no pool, drain nothing, get no other name", async () => {
        await assert.rejects(getJson(`http://${lab!.hosts.nginx.address}:8081/green/`), /ECONNREFUSED/);
        const picked = await getJson<{ color: string }>(`${stack.publicUrl}/`, {
            ...asClient,
            "X-Deploy-Color": "green",
        });
        assert.equal(picked.body.color, "blue");
        const drain = await request(`${stack.publicUrl}/health/drain`, "POST", {
            ...asClient,
            Authorization: `Bearer ${TEST_DRAIN_TOKEN}`,
        });
        assert.equal(drain.status, 404);
        // A name that is not in hostNames, or the bare address, is refused by nginx, not by an app.
        for (const host of ["evil.example.test", lab!.hosts.nginx.address]) {
            const other = await getJson<string>(`${stack.publicUrl}/`, { Host: host });
            assert.equal(other.status, 421, `Host ${host}`);
            assert.match(other.body, /this server does not serve that host name/);
        }
    });

    it("switch blue → green over SSH: zero failed requests, blue stays warm", async () => {
        const bluePids = await pids("blue");
        await stack.stack.setConfig("activeColor", { value: "green" });
        const result = await underLoad("switch blue→green", async () => {
            const up = await stack.stack.up(quiet);
            assert.equal(up.summary.result, "succeeded");
        });
        assert.ok(
            (result.byColor.blue ?? 0) > 0 && (result.byColor.green ?? 0) > 0,
            "traffic moved from blue to green",
        );
        assert.equal(await liveColor(), "green");
        assert.deepEqual(await pids("blue"), bluePids, "the old pool keeps running (standby)");
    });

    it("rollback green → blue over SSH: a 3 s POST in flight finishes on green, zero failed requests", async () => {
        await stack.stack.setConfig("activeColor", { value: "blue" });
        let slow: Promise<{ status: number; headers: Record<string, unknown> }> | undefined;
        let upSeconds = 0;
        await underLoad(
            "rollback green→blue",
            async () => {
                slow = request(`${stack.publicUrl}/work?ms=3000`, "POST", asClient);
                await new Promise((r) => setTimeout(r, 100));
                const started = Date.now();
                const up = await stack.stack.up(quiet);
                upSeconds = (Date.now() - started) / 1000;
                assert.equal(up.summary.result, "succeeded");
            },
            1,
        );
        const slowResult = await slow!;
        assert.equal(slowResult.status, 200);
        assert.equal(slowResult.headers["x-deploy-color"], "green");
        assert.equal(await liveColor(), "blue");
        console.log(`      rollback: pulumi up over SSH took ${upSeconds.toFixed(1)} s`);
    });

    it("a colour set by hand on the nginx host is drift: the preview says so, up gates and puts it back", async () => {
        const live = await liveColor();
        const idle = live === "blue" ? "green" : "blue";
        // Someone on the nginx host with the control token (its file, as the deploy user) sets
        // the colour without the program; the headers go in a file, off curl's command line.
        const token = fs.readFileSync(path.join(lab!.hosts.nginx.root, "nginx", "conf", "control-token"), "utf8");
        const headers = path.join(stack.dir, "hand-set-headers");
        fs.writeFileSync(headers, `X-Bluegreen-Token: ${token.trim()}\nX-Bluegreen-Next-Token: ${"ab".repeat(24)}\n`, {
            mode: 0o600,
        });
        const status = lab!.exec("nginx", [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary", idle,
            "-H", `@${headers}`, "http://127.0.0.1:8081/bluegreen/live",
        ]); // prettier-ignore
        assert.equal(status, "200");
        assert.equal(await liveColor(), idle, "the hand-set colour is served");

        // aws: the nginx host's address (its Elastic IP) is made by the update itself, so the
        // program asks at the address the last update recorded. Same hosts layer, same nginx.
        const outputs = await stack.stack.outputs();
        assert.equal(outputs.nginxLoginAddress?.value, lab!.hosts.nginx.address, "the login address is recorded");
        const awsLike = new SshHosts({
            routers: [
                {
                    address: "10.255.0.1",
                    connectAddress: pulumi.output(lab!.hosts.nginx.address),
                    hostKey: lab!.hosts.nginx.hostKey,
                },
            ],
            pools: { blue: [], green: [] },
            defaultUser: "root",
            privateKey: pulumi.output(lab!.privateKey),
            appPort: 0,
            remoteDir: lab!.remoteDir,
            dialAttempts: 2,
            dialTimeoutSeconds: 3,
            supervisor: "auto",
            switchMode: "reload",
        });
        const internalUrl = "http://127.0.0.1:8081";
        assert.equal(
            await awsLike.observeNginx({ internalUrl, hosts: [] }, "nginx"),
            undefined,
            "nothing to ask at first",
        );
        // Each pool host's /health, asked from the nginx host in the same login: what the check for
        // another process on a live port compares with the recorded instance ids.
        const poolHosts = MACHINES.slice(1).map((name) => ({
            name,
            color: name.split("-")[0] as Color,
            index: Number(name.split("-")[1]),
            address: lab!.hosts[name].address,
            port: 3000,
            workDir: "",
            user: "",
        }));
        const asked = await awsLike.observeNginx(
            {
                internalUrl,
                hosts: poolHosts,
                hostHeader: NAME,
                lastLoginAddress: lab!.hosts.nginx.address,
            },
            "nginx",
        );
        assert.equal(asked?.live, idle);
        for (const { name } of poolHosts) {
            assert.equal(asked?.hosts?.[name]?.status, 200, `${name}: ${JSON.stringify(asked?.hosts?.[name])}`);
            assert.match(echoedInstance(asked!.hosts![name].body), /^[0-9a-f]{32}$/, `${name} echoes its id`);
        }

        await assertDriftPutBack(stack.stack, live, idle, liveColor);
        recordOutcome({
            area: "security",
            target: "ssh",
            fault: `set ${idle} live by hand on the nginx host with the control token, then pulumi preview and up`,
            expected: "the preview asks nginx over SSH and reports the drift; up gates and puts the colour back",
            observed: `drift reported by the preview; ${live} live again after the gate`,
            sent: 0,
            lost: 0,
        });
    });

    it("1.1.0 tarball to idle green: one file copied, unpacked per host, only green restarts, none lost", async () => {
        const bluePids = await pids("blue");
        const greenPids = await pids("green");
        // The reference app as npm pack lays it out: package/server.js, ...
        const staging = path.join(stack.dir, "tarball");
        fs.cpSync(path.join(stack.dir, "project", "bin", "app"), path.join(staging, "package"), { recursive: true });
        const tarball = path.join(stack.dir, "app-1.1.0.tgz");
        execFileSync("tar", ["-czf", tarball, "-C", staging, "package"]);
        await stack.stack.setConfig("greenArtifact", { value: tarball });
        await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
        const result = await underLoad("deploy 1.1.0 to idle green", async () => {
            const up = await stack.stack.up(quiet);
            assert.equal(up.summary.result, "succeeded");
        });
        assert.deepEqual(result.byColor, { blue: result.ok }, "all traffic stayed on blue");
        assert.deepEqual(await pids("blue"), bluePids, "live pool processes unchanged");
        assert.ok(
            (await pids("green")).every((pid) => !greenPids.includes(pid)),
            "every green host runs a new process",
        );
        assert.deepEqual(await versions("green"), ["1.1.0", "1.1.0"]);
        for (const i of HOSTS) {
            const root = path.join(lab!.hosts[`green-${i}`].root, "app");
            const incoming = fs
                .readdirSync(path.join(root, "incoming"))
                .map((release) => fs.readdirSync(path.join(root, "incoming", release)));
            assert.ok(
                incoming.some((entries) => entries.join() === "artifact.tgz"),
                `green-${i} received the tarball as one file`,
            );
            const release = fs.readdirSync(path.join(root, "releases")).find((r) => r.startsWith("1.1.0-"));
            assert.ok(
                release && fs.existsSync(path.join(root, "releases", release, "server.js")),
                `green-${i}'s release root is the tarball's package/ directory`,
            );
        }
    });

    it("a never-ready green fails the update naming its hosts; traffic stays on blue", async () => {
        const neverReady = appVariant("never-ready", 'process.env.FAIL_HEALTH = "1";');
        await stack.stack.setConfig("greenArtifact", { value: neverReady });
        await stack.stack.setConfig("greenVersion", { value: "1.2.0" });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        await underLoad("switch to a never-ready green", async () => {
            await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
        });
        for (const i of HOSTS) {
            const address = lab!.hosts[`green-${i}`].address.replace(/\./g, "\\.");
            assert.match(
                output,
                new RegExp(
                    `green-${i} \\(${address}:3000\\) not ready after 10s: ` +
                        `last /health answered 503 .*"status":"failing"`,
                ),
            );
        }
        assert.equal(await liveColor(), "blue");
        assert.deepEqual(
            await versions("green"),
            ["1.1.0", "1.1.0"],
            "each green host went back to the release it ran",
        );

        await stack.stack.setConfig("greenArtifact", { value: "bin/app" });
        await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
        await stack.stack.setConfig("activeColor", { value: "blue" });
        const up = await stack.stack.up(quiet);
        assert.equal(up.summary.result, "succeeded");
    });

    it("a host cut off mid-deploy: the update fails naming it, blue serves on, the next up converges", async () => {
        // A green release that warms up for 8 s, so the link can be cut while green-2's deploy
        // command is running (not while it dials or copies).
        const slowStart = appVariant("slow-start", 'process.env.WARMUP_MS = "8000";');
        await stack.stack.setConfig("greenArtifact", { value: slowStart });
        await stack.stack.setConfig("greenVersion", { value: "1.4.0" });
        const pidFile = path.join(lab!.hosts["green-2"].root, "app", "app.pid");
        const pidBefore = fs.readFileSync(pidFile, "utf8");
        let output = "";
        let cutAt = 0;
        let failedAt = 0;
        const result = await underLoad("green-2 unreachable mid-deploy", async () => {
            // The new process's pid file is written once the old one drained: the deploy is waiting for it.
            const watcher = setInterval(() => {
                // The drain removes the file and the start writes it: read it only if it is there now.
                let pid: string;
                try {
                    pid = fs.readFileSync(pidFile, "utf8");
                } catch {
                    return;
                }
                if (cutAt || pid === "" || pid === pidBefore) return;
                cutAt = Date.now();
                lab!.cutLink("green-2");
            }, 50);
            // Bounded: a lost peer is noticed by TCP keepalive (about 2.5 min); past 5 min the link comes back.
            const restore = setTimeout(() => void lab!.reconnect("green-2").catch(() => undefined), 300_000);
            try {
                await assert.rejects(stack.stack.up({ onOutput: (text) => (output += text) }));
                failedAt = Date.now();
            } finally {
                clearInterval(watcher);
                clearTimeout(restore);
                // Back on the network before the load's closing count asks green-2 for its own.
                await lab!.reconnect("green-2");
            }
        });
        assert.ok(cutAt, "the link went down while green-2's deploy ran");
        const seconds = (failedAt - cutAt) / 1000;
        assert.ok(
            seconds < 290,
            `the update failed by itself ${seconds.toFixed(0)} s after the link went down, before the test restored it`,
        );
        const address = lab!.hosts["green-2"].address.replace(/\./g, "\\.");
        assert.match(output, new RegExp(`green-host-2[^\\n]*(error|failed)`), "the failure names green-2's resource");
        assert.match(output, new RegExp(`Deploying 1\\.4\\.0 \\S+ to green-2 at ${address}:3000`), "and its address");
        assert.deepEqual(result.byColor, { blue: result.ok }, "traffic stayed on blue");
        assert.equal(await liveColor(), "blue");
        await stack.stack.setConfig("greenArtifact", { value: "bin/app" });
        const up = await stack.stack.up(quiet);
        assert.equal(up.summary.result, "succeeded", "with the host back, the next update converges");
        assert.deepEqual(await versions("green"), ["1.4.0", "1.4.0"]);
        recordOutcome({
            target: "ssh",
            area: "fault",
            fault: "green-2's network link taken down while its deploy of 1.4.0 runs over SSH",
            expected: "update fails naming green-2; blue serves throughout; next up converges",
            observed:
                `failed ${seconds.toFixed(0)} s after the cut naming green-host-2 (TCP keepalive); ` +
                `blue served; converged once the link was back`,
            sent: result.sent,
            lost: 0,
        });
    });

    it("rotating the SSH deploy key per the runbook: no app restart, no request lost, old key not needed", async () => {
        const live = await liveColor();
        const before = { blue: await pids("blue"), green: await pids("green") };
        const keyFile = path.join(lab!.dir, "client_key_rotated");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bluegreen-lab-rotated", "-f", keyFile]);
        const oldPublic = fs.readFileSync(path.join(lab!.dir, "client_key.pub"), "utf8");
        const newPublic = fs.readFileSync(`${keyFile}.pub`, "utf8");
        const authorizedKeys = MACHINES.map((name) => path.join(lab!.dir, "hosts", name, "authorized_keys"));
        // 1. The new public key goes onto every host, beside the old one.
        for (const file of authorizedKeys) fs.appendFileSync(file, newPublic);
        // 2. The stack switches to the new private key; the update logs in with it everywhere.
        await stack.stack.setConfig("sshPrivateKey", { value: fs.readFileSync(keyFile, "utf8"), secret: true });
        await underLoad("SSH deploy key rotated", async () => {
            const result = await stack.stack.up(quiet);
            assert.equal(result.summary.result, "succeeded");
        });
        assert.deepEqual(
            { blue: await pids("blue"), green: await pids("green") },
            before,
            "no app process was restarted",
        );
        // 3. The old public key is removed: a switch still works, so the old key is no longer used.
        for (const file of authorizedKeys) fs.writeFileSync(file, newPublic, { mode: 0o600 });
        assert.ok(!fs.readFileSync(authorizedKeys[0], "utf8").includes(oldPublic.trim()));
        const other = live === "blue" ? "green" : "blue";
        await stack.stack.setConfig("activeColor", { value: other });
        await underLoad(`switch to ${other} with only the new key`, async () => {
            const result = await stack.stack.up(quiet);
            assert.equal(result.summary.result, "succeeded");
        });
        assert.equal(await liveColor(), other);
        await stack.stack.setConfig("activeColor", { value: live });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        assert.equal(await liveColor(), live);
    });

    it("over SSH: a migration hook runs before traffic moves; maintenance on and off without a reload", async () => {
        const live = await liveColor();
        const other: Color = live === "blue" ? "green" : "blue";
        // The hook runs as the app's own user in its host's namespace: the log is everyone's to write.
        const logDir = path.join(lab!.dir, "hook-log");
        fs.mkdirSync(logDir, { mode: 0o777 });
        fs.chmodSync(logDir, 0o777);
        const hookLog = path.join(logDir, "hooks.jsonl");
        const withHook = appVariant("with-hook", "");
        fs.writeFileSync(
            path.join(withHook, "hook.js"),
            [
                'const http = require("node:http");',
                "const [log, url, host] = process.argv.slice(2);",
                "http.get(url, { headers: { Host: host } }, (res) => {",
                "    res.resume();",
                '    require("node:fs").appendFileSync(log, JSON.stringify({ hook: process.env.HOOK,',
                "        color: process.env.POOL_COLOR, served: res.headers['x-deploy-color'],",
                '        machine: require("node:os").hostname() }) + "\\n");',
                "});",
            ].join("\n"),
        );
        await stack.stack.setConfig(`${other}Artifact`, { value: withHook });
        await stack.stack.setConfig("preSwitchCommand", {
            value: `node hook.js ${hookLog} ${stack.publicUrl}/ ${NAME}`,
        });
        await stack.stack.setConfig("activeColor", { value: other });
        await underLoad(`switch to ${other} with a migration hook`, async () => {
            assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        });
        const records = fs
            .readFileSync(hookLog, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { hook: string; color: string; served: string });
        assert.deepEqual(
            records.map((r) => `${r.hook} ${r.color} served=${r.served}`),
            [`pre-switch ${other} served=${live}`],
            "the hook ran once, on the pool going live, before traffic moved",
        );
        assert.equal(await liveColor(), other);

        // Maintenance on, then off: only its 503s, the same nginx workers, no app restarted.
        const prefix = path.join(lab!.hosts.nginx.root, "nginx");
        const workers = nginxWorkers(prefix);
        const before = { blue: await pids("blue"), green: await pids("green") };
        await stack.stack.setConfig("maintenance", { value: "true" });
        const run = await measureUnderLoad(
            {
                url: stack.publicUrl,
                name: "maintenance on, then off (ssh)",
                hostsPerPool: HOSTS.length,
                appStatus: (c, i) => stack.appStatus(c, i),
                headers: asClient,
            },
            async () => {
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
                const page = await request(`${stack.publicUrl}/`, "GET", asClient);
                assert.equal(page.status, 503);
                assert.equal(page.headers["retry-after"], "300");
                await stack.stack.setConfig("maintenance", { value: "false" });
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            },
        );
        const maintenance = run.result.failures.filter((f) => f.status === 503).length;
        assert.ok(maintenance > 0, "the load met the maintenance page");
        assert.deepEqual(
            run.result.failures.filter((f) => f.status !== 503),
            [],
            "nothing else failed",
        );
        assert.equal(run.postsProcessed, run.result.postOk, "every POST that reached an app was answered once");
        assert.deepEqual(nginxWorkers(prefix), workers, "no reload");
        assert.deepEqual({ blue: await pids("blue"), green: await pids("green") }, before, "no app restarted");
        assert.equal(await liveColor(), other);
        recordOutcome({
            target: "ssh",
            area: "maintenance",
            fault: "maintenance on, then off, over SSH (no-reload)",
            expected: "503 + Retry-After while on, nothing else failed, no reload, no app restart",
            observed: `${run.result.ok} complete 2xx, ${maintenance} maintenance 503s, 0 other failures`,
            sent: run.result.sent,
            lost: 0,
        });
        await stack.stack.removeConfig("preSwitchCommand");
        await stack.stack.setConfig("activeColor", { value: live });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
    });

    it("certificates from an ACME CA over SSH: the nginx host obtains one, a switch under load renews it", async () => {
        const nginx = lab!.hosts.nginx.address;
        const ca = await startTestCa({
            httpPort: SSH_PUBLIC_PORT,
            validitySeconds: 900,
            listenAddress: lab!.bridgeAddress,
            namesResolveTo: nginx,
        });
        try {
            const live = await liveColor();
            const acme: Record<string, string> = {
                httpsPort: "8443",
                acmeDirectoryUrl: ca.directoryUrl,
                acmeEmail: "ops@example.test",
                acmeCaCertificate: ca.listenerCertificate,
                acmeRenewDays: "1",
            };
            for (const [key, value] of Object.entries(acme)) await stack.stack.setConfig(key, { value });
            let output = "";
            const first = await stack.stack.up({ onOutput: (t) => (output += t) });
            assert.equal(first.summary.result, "succeeded");
            assert.match(output, /No certificate yet: plain HTTP first/);
            assert.match(output, /verified GET \/health over HTTPS: 200 from /);
            const root = await ca.issuingRoot();
            const before = await servedCertificate(nginx, 8443, NAME, root);
            assert.match(before.issuer, /Pebble/i);

            const other = live === "blue" ? "green" : "blue";
            await stack.stack.setConfig("activeColor", { value: other });
            const run = await measureUnderLoad(
                {
                    url: `https://${nginx}:8443`,
                    name: `switch to ${other} that renews the certificate (ssh, HTTPS)`,
                    hostsPerPool: HOSTS.length,
                    appStatus: (c, i) => stack.appStatus(c, i),
                    headers: asClient,
                    ca: root,
                },
                async () => {
                    assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
                },
            );
            assertNothingLost(run, {
                target: "ssh",
                area: "certificates (ACME)",
                fault: `switch to ${other} over SSH that renews the certificate, load over HTTPS sending Host: ${NAME}`,
                expected: "0 failed requests (the renewal's reload closes idle connections: counted apart)",
            });
            assert.notEqual((await servedCertificate(nginx, 8443, NAME, root)).serial, before.serial);
            assert.equal(await liveColor(), other);

            await stack.stack.setConfig("activeColor", { value: live });
            for (const key of Object.keys(acme)) await stack.stack.removeConfig(key);
            assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded", "back to plain HTTP");
        } finally {
            await ca.dispose();
        }
    });

    describe("connection problems fail naming the host and the cause, and change nothing on any host", () => {
        const hostsConfig = () =>
            JSON.parse(
                JSON.stringify({
                    green: HOSTS.map((i) => ({
                        address: lab!.hosts[`green-${i}`].address,
                        hostKey: lab!.hosts[`green-${i}`].hostKey,
                    })),
                }),
            );

        async function attempt(broken: object[], expected: RegExp, fault: string): Promise<void> {
            const before = { blue: await pids("blue"), green: await pids("green"), versions: await versions("green") };
            await stack.stack.setConfig("greenSshHosts", { value: JSON.stringify(broken) });
            await stack.stack.setConfig("greenVersion", { value: "1.5.0" });
            let output = "";
            await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            assert.match(output, expected);
            assert.deepEqual(
                { blue: await pids("blue"), green: await pids("green"), versions: before.versions },
                before,
                "no app process was restarted anywhere",
            );
            assert.deepEqual(await versions("green"), before.versions, "no host got the new release");
            assert.equal(await liveColor(), "blue");
            const match = expected.exec(output)?.[0] ?? "";
            const named = /reach-(green-\d)/.exec(match)?.[1] ?? "?";
            const message = match
                .replace(/[\s\S]*\n/, "")
                .replace(/^\s*error: /, "")
                .slice(0, 140);
            recordOutcome({
                target: "ssh",
                area: "fault",
                fault,
                expected: "the update fails naming the host and the cause before any host changes",
                observed: `failed at reach-${named}: "${message}"; no app restarted anywhere`,
                sent: 0,
                lost: 0,
            });
        }

        afterEach(async () => {
            await stack.stack.setConfig("greenSshHosts", { value: JSON.stringify(hostsConfig().green) });
            await stack.stack.setConfig("greenVersion", { value: "1.4.0" });
        });

        it("a host whose sshd does not accept the variables (no AcceptEnv BLUEGREEN_* line)", async () => {
            const hostDir = path.join(lab!.dir, "hosts", "green-1");
            const configFile = path.join(hostDir, "sshd_config");
            const original = fs.readFileSync(configFile, "utf8");
            // sshd re-executes itself on SIGHUP; it is back once its log says it listens again.
            const listening = () =>
                (fs.readFileSync(path.join(hostDir, "sshd.log"), "utf8").match(/Server listening on/g) ?? []).length;
            const reload = async (text: string) => {
                const before = listening();
                fs.writeFileSync(configFile, text);
                process.kill(Number(fs.readFileSync(path.join(hostDir, "sshd.pid"), "utf8")), "SIGHUP");
                for (
                    const deadline = Date.now() + 10_000;
                    listening() === before;
                    await new Promise((r) => setTimeout(r, 50))
                ) {
                    assert.ok(Date.now() < deadline, "sshd listens again within 10 s of SIGHUP");
                }
            };
            await reload(original.replace(/^AcceptEnv .*\n/m, ""));
            try {
                await attempt(
                    hostsConfig().green,
                    new RegExp(
                        "reach-green-1[\\s\\S]*Unable to set 'BLUEGREEN_\\w+'[\\s\\S]*AcceptEnv[\\s\\S]*" +
                            'could not set environment variable "BLUEGREEN_\\w+": ssh: setenv failed',
                    ),
                    "green-1's sshd without the AcceptEnv BLUEGREEN_* line, then a deploy",
                );
            } finally {
                await reload(original);
            }
        });

        it("SSH_AUTH_SOCK naming an agent that is gone: refused before anything runs, saying the fix", async () => {
            const socket = path.join(lab!.dir, "agent-that-exited.sock");
            stack.stack.workspace.envVars.SSH_AUTH_SOCK = socket;
            try {
                await assert.rejects(stack.stack.preview(quiet), (err: Error) => {
                    assert.match(
                        err.message,
                        new RegExp(
                            `SSH_AUTH_SOCK is set to ${socket.replace(/\./g, "\\.")}, ` +
                                `but no SSH agent answers there \\(ENOENT\\)[\\s\\S]*unset SSH_AUTH_SOCK`,
                        ),
                    );
                    return true;
                });
            } finally {
                delete stack.stack.workspace.envVars.SSH_AUTH_SOCK;
            }
        });

        it("an unreachable host", async () => {
            const green = hostsConfig().green;
            const subnet = lab!.bridgeAddress.replace(/\.1$/, "");
            green[1] = { address: `${subnet}.99` };
            const address = `${subnet.replace(/\./g, "\\.")}\\.99:22`;
            // sshDialAttempts 2: the plugin's dialErrorLimit 1, whose message counts one less.
            await attempt(
                green,
                new RegExp(
                    `reach-green-2[\\s\\S]*after 1 failed attempts: ` +
                        `dial tcp ${address}: (i/o timeout|connect: no route to host)`,
                ),
                "green-2 listed at an address where no machine answers, then a deploy",
            );
        });

        it("a login the host refuses", async () => {
            const green = hostsConfig().green;
            green[0] = { ...green[0], user: "no-such-user" };
            await attempt(
                green,
                /reach-green-1[\s\S]*ssh: unable to authenticate/,
                "green-1's login refused (a user the host does not have), then a deploy",
            );
        });

        it("a host key that does not match the pinned one", async () => {
            const green = hostsConfig().green;
            green[0] = { ...green[0], hostKey: lab!.hosts["blue-1"].hostKey };
            await attempt(
                green,
                /reach-green-1[\s\S]*ssh: host key mismatch/,
                "green-1 pinned to another host's key (a man in the middle), then a deploy",
            );
        });
    });
});
