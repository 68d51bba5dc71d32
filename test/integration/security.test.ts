// Attacks on a running local-target stack (real nginx, real apps), each tried for real:
// routing by a client, draining without the token, reading secrets from logs, preview output,
// state or the rendered config, version disclosure, oversized and slow requests, and reaching
// the internal listener from another address.
import * as assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LocalStack, TEST_DRAIN_TOKEN, createLocalStack, getJson, request } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { assertDriftPutBack } from "../support/drift";
import { needsRoot } from "../support/root";

/** Every file under `dir` whose text contains `needle` (relative paths). */
function filesContaining(dir: string, needle: string): string[] {
    const found: string[] = [];
    const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.isFile() && entry.name !== "drain-token" && fs.readFileSync(p).includes(needle))
                found.push(path.relative(dir, p));
        }
    };
    walk(dir);
    return found;
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
    for (const list of Object.values(os.networkInterfaces())) {
        for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
    }
    return undefined;
}

describe("security: each attack tried against a running stack", function () {
    let stack: LocalStack;
    let upOutput = "";

    before(async () => {
        stack = await createLocalStack();
        const result = await stack.stack.up({ onOutput: (t) => (upOutput += t) });
        assert.equal(result.summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    it("no client routing on the public listener: header, path, query and Host all get the live pool", async () => {
        const attempts: [string, Record<string, string>][] = [
            ["/", { "X-Deploy-Color": "green" }],
            ["/", { "X-Deploy-Color": "pool_green" }],
            ["/green/", {}],
            ["/?color=green", {}],
            ["/", { Host: "green" }],
            ["/", { Cookie: "deploy_color=green" }],
        ];
        for (const [url, headers] of attempts) {
            const res = await getJson<{ color?: string }>(`${stack.publicUrl}${url}`, headers);
            assert.equal(res.headers["x-deploy-color"], "blue", `${url} ${JSON.stringify(headers)}: served by blue`);
            if (res.status === 200) assert.equal(res.body.color, "blue", "the app saw blue, not what the client sent");
        }
        recordOutcome({
            area: "security",
            fault: "client tries to pick the idle pool: X-Deploy-Color, /green/ path, ?color=, Host, Cookie",
            expected: "always the live pool",
            observed: `all ${attempts.length} attempts served by blue`,
            sent: attempts.length,
            lost: 0,
        });
    });

    it("drain needs the token: without it or a wrong one the app keeps serving; public listener has none", async () => {
        const app = `http://127.0.0.1:${stack.hostPort("green", 1)}`;
        const before = await stack.appStatus("green", 1);
        const tries: Record<string, string>[] = [
            {},
            { "X-Deploy-Token": "wrong-token-000000000000" },
            { Authorization: "Bearer wrong-token-000000000000" },
        ];
        for (const headers of tries) {
            const res = await request(`${app}/health/drain`, "POST", headers);
            assert.ok([401, 403].includes(res.status), `drain without the right token answered ${res.status}`);
        }
        const publicDrain = await request(`${stack.publicUrl}/health/drain`, "POST", {
            Authorization: `Bearer ${TEST_DRAIN_TOKEN}`,
        });
        assert.equal(publicDrain.status, 404);
        const after = await stack.appStatus("green", 1);
        assert.equal(after.status, "ready");
        assert.equal(after.pid, before.pid);
        recordOutcome({
            area: "security",
            fault:
                "POST /health/drain without the token, with a wrong one, " +
                "and through the public listener with the right one",
            expected: "refused (401/403, 404 in public); app keeps serving",
            observed: "refused every time; same pid, still ready",
            sent: tries.length + 1,
            lost: 0,
        });
    });

    it("secrets never appear in logs, preview output, the rendered config or state in plain text", async () => {
        let previewOutput = "";
        await stack.stack.setConfig("greenVersion", { value: "1.0.1" });
        const preview = await stack.stack.preview({ diff: true, onOutput: (t) => (previewOutput += t) });
        await stack.stack.setConfig("greenVersion", { value: "1.0.0" });
        assert.ok(preview.stdout.length > 0);
        assert.ok(!previewOutput.includes(TEST_DRAIN_TOKEN), "preview --diff output does not show the drain token");
        assert.ok(!upOutput.includes(TEST_DRAIN_TOKEN), "pulumi up output does not show the drain token");
        // The state as the backend stores it (the Automation API's export decrypts secrets).
        const backend = path.join(stack.dir, "backend");
        assert.deepEqual(
            filesContaining(backend, TEST_DRAIN_TOKEN),
            [],
            "the backend's state files hold the token only encrypted",
        );
        const stateFiles = fs
            .readdirSync(path.join(backend, ".pulumi", "stacks", "bluegreen"))
            .filter((f) => f.endsWith(".json"));
        assert.match(
            fs.readFileSync(path.join(backend, ".pulumi", "stacks", "bluegreen", stateFiles[0]), "utf8"),
            /"ciphertext"/,
            "secret values are stored as ciphertext",
        );
        const conf = fs.readFileSync(path.join(stack.stateDir, "nginx", "conf", "nginx.conf"), "utf8");
        assert.ok(!conf.includes(TEST_DRAIN_TOKEN), "the rendered nginx config does not contain the token");
        const leaks = filesContaining(stack.stateDir, TEST_DRAIN_TOKEN);
        assert.deepEqual(
            leaks,
            [],
            "no log, config or pid file under the state dir holds the token (only the hosts' drain-token files)",
        );
        const tokenFile = path.join(stack.stateDir, "pools", "blue", "host-1", "drain-token");
        assert.equal(
            (fs.statSync(tokenFile).mode & 0o077).toString(8),
            "0",
            "the token file is readable by its owner only",
        );
        recordOutcome({
            area: "security",
            fault:
                "look for the drain token in preview --diff, up output, exported state, " +
                "nginx config, every log and pid file",
            expected: "only in the hosts' drain-token files (mode 600) and as ciphertext in state",
            observed: "not found anywhere else",
            sent: 0,
            lost: 0,
        });
    });

    it("an app's environment has the contract's variables only: no token, no script, nothing of Pulumi's", async () => {
        const pid = (await stack.appStatus("blue", 1)).pid;
        const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
        const names = environ.map((entry) => entry.split("=")[0]).sort();
        assert.deepEqual(names, [
            "APP_VERSION",
            "BIND_ADDRESS",
            "DRAIN_TIMEOUT_MS",
            "DRAIN_TOKEN_FILE",
            "HOME",
            "INSTANCE_ID",
            "LANG",
            "PATH",
            "POOL_COLOR",
            "PORT",
            "PWD",
        ]);
        assert.ok(
            !environ.some((entry) => entry.includes(TEST_DRAIN_TOKEN)),
            "the token is read from its file, never passed in the environment",
        );
        recordOutcome({
            area: "security",
            fault: "read a running app's environment (/proc/<pid>/environ)",
            expected: "the contract's variables only",
            observed: names.join(", "),
            sent: 0,
            lost: 0,
        });
    });

    it("server_tokens off: no nginx version in headers or error pages", async () => {
        const ok = await getJson(`${stack.publicUrl}/`);
        assert.equal(ok.headers.server, "nginx");
        const notFound = await request(`${stack.publicUrl}/health/drain`, "GET");
        assert.equal(notFound.headers.server, "nginx");
        assert.doesNotMatch(notFound.body, /nginx\/\d/);
        recordOutcome({
            area: "security",
            fault: "read the Server header and an error page",
            expected: "no version",
            observed: `Server: ${String(ok.headers.server)}; error page without version`,
            sent: 2,
            lost: 0,
        });
    });

    it("request bodies are bounded: 11 MB is refused with 413 before it reaches an app", async () => {
        const body = "x".repeat(11 * 1024 * 1024);
        const res = await request(`${stack.publicUrl}/work?ms=1`, "POST", { "Content-Type": "text/plain" }, body);
        assert.equal(res.status, 413);
        recordOutcome({
            area: "security",
            fault: "POST an 11 MB body",
            expected: "413 from nginx (client_max_body_size 10m)",
            observed: `${res.status}`,
            sent: 1,
            lost: 0,
        });
    });

    it("a client that sends its headers slowly is cut off by nginx's header timeout (slowloris)", async () => {
        const port = Number(new URL(stack.publicUrl).port);
        const started = Date.now();
        const closedAfter = await new Promise<number>((resolve, reject) => {
            const socket = net.connect(port, "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n"));
            const drip = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 1000);
            socket.on("close", () => {
                clearInterval(drip);
                resolve(Date.now() - started);
            });
            socket.on("error", () => undefined);
            setTimeout(() => {
                clearInterval(drip);
                socket.destroy();
                reject(new Error("nginx kept a slow client open for more than 25 s"));
            }, 25_000);
        });
        assert.ok(
            closedAfter >= 14_000 && closedAfter <= 20_000,
            `closed after ${closedAfter} ms (client_header_timeout 15s)`,
        );
        recordOutcome({
            area: "security",
            fault: "send request headers one line per second, never finishing",
            expected: "nginx closes the connection after client_header_timeout (15 s)",
            observed: `closed after ${(closedAfter / 1000).toFixed(1)} s`,
            sent: 1,
            lost: 0,
        });
    }).timeout(30_000);

    it("no token on any command line during switches: a local user polling /proc sees neither token", async () => {
        const SWITCHES = 20;
        const tokenFile = path.join(stack.stateDir, "nginx", "conf", "control-token");
        // Every control token of the run (each switch makes the next one), and the drain token.
        const tokens = new Set([fs.readFileSync(tokenFile, "utf8").trim(), TEST_DRAIN_TOKEN]);
        // The attacker: another process reading every command line on the machine, as fast as it can,
        // until told to stop: it keeps any token header and any 48-hex-digit word (a control token's
        // shape). A canary proves it would have seen a token there.
        const seen = path.join(stack.dir, "cmdlines-seen");
        // The patterns go in a file: on the poller's own command line they would match themselves.
        fs.writeFileSync(
            `${seen}.patterns`,
            `X-Bluegreen-[A-Za-z-]*Token: [0-9a-z]+\n[0-9a-f]{48}\n${TEST_DRAIN_TOKEN}\n`,
        );
        const poll =
            'n=0; until [ -e "$1.stop" ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " " | ' +
            'grep -aoE -f "$1.patterns" >>"$1"; n=$((n + 1)); done; echo "$n" >"$1.scans"';
        const poller = spawn("bash", ["-c", poll, "poller", seen], { stdio: "ignore" });
        const stopped = new Promise((resolve) => poller.on("exit", resolve));
        try {
            spawnSync("bash", ["-c", 'exec -a "X-Bluegreen-Token: canary" sleep 1']);
            for (const color of Array.from({ length: SWITCHES }, (_, i) => (i % 2 === 0 ? "green" : "blue"))) {
                await stack.stack.setConfig("activeColor", { value: color });
                assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
                assert.equal((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"], color);
                tokens.add(fs.readFileSync(tokenFile, "utf8").trim());
            }
        } finally {
            fs.writeFileSync(`${seen}.stop`, "");
            await stopped;
        }
        const found = fs.readFileSync(seen, "utf8").split("\n").filter(Boolean);
        const scans = Number(fs.readFileSync(`${seen}.scans`, "utf8"));
        assert.equal(tokens.size, SWITCHES + 2, "every switch made a new control token");
        assert.ok(
            found.includes("X-Bluegreen-Token: canary"),
            "the poller sees a token-like command line when there is one",
        );
        assert.deepEqual(
            found.filter((f) => f.startsWith("X-Bluegreen-") && f !== "X-Bluegreen-Token: canary"),
            [],
            "no other token header was on a command line",
        );
        assert.deepEqual(
            found.filter((f) => tokens.has(f)),
            [],
            "none of the run's tokens was on a command line",
        );
        recordOutcome({
            area: "security",
            fault: `poll every process's command line (${scans} scans) through ${SWITCHES} switches, as any user can`,
            expected: "no control token (a new one per switch) nor the drain token is ever on a command line",
            observed: `only the test's canary was seen; none of ${tokens.size} tokens in ${scans} scans`,
            sent: 0,
            lost: 0,
        });
    });

    it("a copied control token moves traffic once at most; the next up reports it, gates, puts it back", async () => {
        const tokenFile = path.join(stack.stateDir, "nginx", "conf", "control-token");
        const liveUrl = `${stack.internalUrl}/bluegreen/live`;
        // As the switch does: the token, and the one nginx is to take next.
        const postLive = (token: string, color: string, next = randomBytes(24).toString("hex")) =>
            request(liveUrl, "POST", { "X-Bluegreen-Token": token, "X-Bluegreen-Next-Token": next }, color);
        const live = String((await getJson(liveUrl)).body);
        const idle = live === "blue" ? "green" : "blue";
        const beforeSwitch = fs.readFileSync(tokenFile, "utf8").trim();
        // A copy taken before a switch (from the file, or a worker's memory) is dead after it.
        await stack.stack.setConfig("activeColor", { value: idle });
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
        const stale = await postLive(beforeSwitch, live);
        assert.equal(stale.status, 403, "a token from before the last switch is refused");
        await stack.stack.setConfig("activeColor", { value: live });
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");

        // A copy taken since the last switch works once, as the switch's own would.
        const copied = fs.readFileSync(tokenFile, "utf8").trim();
        assert.notEqual(copied, beforeSwitch, "each switch replaced the token");
        const attackersNext = randomBytes(24).toString("hex");
        const hijack = await postLive(copied, idle, attackersNext);
        assert.equal(hijack.status, 200);
        assert.equal((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"], idle);
        const replay = await postLive(copied, live);
        assert.equal(replay.status, 403, "the copy worked once");

        await assertDriftPutBack(stack.stack, live, idle, async () =>
            String((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"]),
        );
        const attackerAgain = await postLive(attackersNext, idle);
        assert.equal(attackerAgain.status, 403, "the token the attacker handed nginx is dead too");
        recordOutcome({
            area: "security",
            fault:
                "POST /bluegreen/live with a control token copied before a switch, " +
                "then with one copied after it (twice), then pulumi preview and up",
            expected:
                "old copy refused; a fresh copy works once; preview and up report the drift; " +
                "up gates and puts the colour back; the attacker's token dead",
            observed: `403; 200 then 403; drift reported; ${live} live again after the gate; 403`,
            sent: 4,
            lost: 0,
        });
    });

    it("as root, every app runs as bluegreen-app: not root, and unable to read nginx's conf or logs", function () {
        needsRoot(this, "the apps change user only when the deploy runs as root");
        const appUid = spawnSync("id", ["-u", "bluegreen-app"], { encoding: "utf8" });
        assert.equal(appUid.status, 0, `the deploy made the user bluegreen-app: ${appUid.stderr}`);
        const hosts = (["blue", "green"] as const).flatMap((color) =>
            [1, 2].map((i) => ({ color, dir: path.join(stack.stateDir, "pools", color, `host-${i}`) })),
        );
        const uids = hosts.map(({ dir }) => {
            const pid = Number(fs.readFileSync(path.join(dir, "app.pid"), "utf8").trim());
            const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            // Uid: real, effective, saved, filesystem: none may be root.
            return /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status)!.slice(1).join(" ");
        });
        const expected = Array(4).fill(appUid.stdout.trim()).join(" ");
        assert.deepEqual(uids, Array(hosts.length).fill(expected), "real, effective, saved and fs uid of every app");
        // As that user: it reads its own token (its app drains with it) but nothing of nginx's.
        const asApp = (args: string[]) =>
            spawnSync("setpriv", ["--reuid=bluegreen-app", "--regid=bluegreen-app", "--init-groups", ...args], {
                encoding: "utf8",
            });
        const ownToken = asApp(["cat", path.join(hosts[0].dir, "drain-token")]);
        assert.equal(ownToken.stdout, TEST_DRAIN_TOKEN, `the app's user reads its drain token: ${ownToken.stderr}`);
        const nginxFiles = ["conf/control-token", "conf/nginx.conf", "logs/access.log"];
        for (const file of nginxFiles) {
            const read = asApp(["cat", path.join(stack.stateDir, "nginx", file)]);
            assert.notEqual(read.status, 0, `bluegreen-app cannot read nginx/${file}`);
            assert.match(read.stderr, /Permission denied/);
        }
        recordOutcome({
            area: "security",
            fault: "read each app's uids (/proc/<pid>/status) with the stack run as root; read nginx's files as it",
            expected: "every app runs as bluegreen-app, not root; it reads its drain token and nothing of nginx's",
            observed: `${hosts.length} apps with uid ${appUid.stdout.trim()}; ${nginxFiles.length} nginx files refused`,
            sent: 0,
            lost: 0,
        });
    });

    it("nginx holds nothing of pulumi up's environment: a secret there is nowhere in its memory", async function () {
        needsRoot(this, "reading another process's memory needs root");
        // nginx copies its environment to its heap and writes its process title over the original,
        // so /proc/<pid>/environ shows nothing either way: search the process's writable memory.
        const memoryHolds = (pid: number, needle: string): boolean => {
            const mem = fs.openSync(`/proc/${pid}/mem`, "r");
            try {
                for (const line of fs.readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
                    const region = /^([0-9a-f]+)-([0-9a-f]+) rw-p/.exec(line);
                    if (!region) continue;
                    const start = parseInt(region[1], 16);
                    const bytes = Buffer.alloc(parseInt(region[2], 16) - start);
                    try {
                        fs.readSync(mem, bytes, 0, bytes.length, start);
                    } catch {
                        continue; // a region that cannot be read holds nothing we could see either
                    }
                    if (bytes.includes(needle)) return true;
                }
                return false;
            } finally {
                fs.closeSync(mem);
            }
        };
        const pidFile = path.join(stack.stateDir, "nginx", "logs", "nginx.pid");
        const canary = `canary-${randomBytes(12).toString("hex")}`;
        // The check can find it: a process started with the secret in its environment holds it.
        const holder = spawn("sleep", ["30"], { env: { ...process.env, BLUEGREEN_CANARY_SECRET: canary } });
        try {
            await new Promise((resolve) => setTimeout(resolve, 200));
            assert.ok(memoryHolds(holder.pid!, canary), "the search finds the secret in a process that has it");
        } finally {
            holder.kill("SIGKILL");
        }
        // pulumi up's environment (the Automation API passes this process's to the CLI) carries a
        // secret: nginx must not, including when this update is what starts it.
        process.env.BLUEGREEN_CANARY_SECRET = canary;
        try {
            const old = Number(fs.readFileSync(pidFile, "utf8").trim());
            process.kill(old, "SIGQUIT");
            const deadline = Date.now() + 20_000;
            while (fs.existsSync(`/proc/${old}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            assert.ok(!fs.existsSync(`/proc/${old}`), "nginx stopped");
            let output = "";
            const up = await stack.stack.up({ onOutput: (t) => (output += t) });
            assert.equal(up.summary.result, "succeeded");
            assert.match(output, /Starting nginx with prefix/, "this update started nginx");
        } finally {
            delete process.env.BLUEGREEN_CANARY_SECRET;
        }
        const master = Number(fs.readFileSync(pidFile, "utf8").trim());
        const workers = fs
            .readdirSync("/proc")
            .filter((entry) => /^\d+$/.test(entry))
            .filter((pid) => {
                try {
                    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
                    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === master;
                } catch {
                    return false; // gone
                }
            })
            .map(Number);
        assert.ok(workers.length > 0, "nginx has workers");
        const holding = [master, ...workers].filter((pid) => memoryHolds(pid, canary));
        assert.deepEqual(holding, [], "no nginx process (master or worker) holds the secret");
        assert.equal((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"], "blue", "blue serves again");
        recordOutcome({
            area: "security",
            fault:
                "stop nginx, run pulumi up with a secret in its environment, " +
                "search the new master's and workers' memory for it",
            expected: "up starts nginx again; no nginx process holds the secret",
            observed: `started again; found in none of ${workers.length + 1} nginx processes (found in a control)`,
            sent: 1,
            lost: 0,
        });
    });

    it("as root, nginx's workers run as bluegreen-nginx, which cannot read the control token", function () {
        needsRoot(this, "nginx's workers change user only when its master runs as root");
        const nginxUid = spawnSync("id", ["-u", "bluegreen-nginx"], { encoding: "utf8" });
        assert.equal(nginxUid.status, 0, `the switch made the user bluegreen-nginx: ${nginxUid.stderr}`);
        const prefix = path.join(stack.stateDir, "nginx");
        const master = Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim());
        const uidOf = (pid: number) => /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1];
        const workers = fs
            .readdirSync("/proc")
            .filter((entry) => /^\d+$/.test(entry))
            .map(Number)
            .filter((pid) => {
                try {
                    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
                    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === master;
                } catch {
                    return false; // gone
                }
            });
        assert.ok(workers.length > 0, "nginx has workers");
        assert.equal(uidOf(master), "0", "the master runs as root (it binds, reads conf/)");
        assert.deepEqual(
            workers.map(uidOf),
            workers.map(() => nginxUid.stdout.trim()),
            "every worker runs as bluegreen-nginx",
        );
        const asWorker = (args: string[]) =>
            spawnSync("setpriv", ["--reuid=bluegreen-nginx", "--regid=bluegreen-nginx", "--init-groups", ...args], {
                encoding: "utf8",
            });
        // The check can pass: the workers' user does reach the temp dirs it must write.
        const temp = asWorker(["test", "-w", path.join(prefix, "temp", "client_body")]);
        assert.equal(temp.status, 0, "bluegreen-nginx writes temp/client_body");
        const token = asWorker(["cat", path.join(prefix, "conf", "control-token")]);
        assert.notEqual(token.status, 0, "bluegreen-nginx cannot read conf/control-token");
        assert.match(token.stderr, /Permission denied/);
        recordOutcome({
            area: "security",
            fault: "read nginx's workers' uid with the stack run as root; read conf/control-token as that user",
            expected: "workers run as bluegreen-nginx (not the shared nobody); the token is refused to it",
            observed: `${workers.length} workers with uid ${nginxUid.stdout.trim()}; token: permission denied`,
            sent: 0,
            lost: 0,
        });
    });

    it("logs, tokens and state are unreadable by another local user (nobody), and the backend unlistable", function () {
        needsRoot(this, "trying as another user needs root");
        const asNobody = (args: string[]) =>
            spawnSync("runuser", ["-u", "nobody", "--", ...args], { encoding: "utf8" });
        // The check can pass: nobody reads a world-readable file in a world-listable directory.
        const open = path.join(stack.dir, "world-readable");
        fs.mkdirSync(open, { mode: 0o755 });
        fs.writeFileSync(path.join(open, "file"), "readable", { mode: 0o644 });
        fs.chmodSync(open, 0o755);
        assert.equal(asNobody(["cat", path.join(open, "file")]).stdout, "readable", "runuser as nobody works");
        const files = [
            "nginx/logs/access.log",
            "nginx/logs/error.log",
            "nginx/conf/nginx.conf",
            "nginx/conf/control-token",
            "pools/blue/host-1/app.log",
            "pools/blue/host-1/drain-token",
            "pools/blue/host-1/instance-id",
            "pools/green/host-2/app.log",
        ];
        const readable = files.filter((file) => asNobody(["cat", path.join(stack.stateDir, file)]).status === 0);
        assert.deepEqual(readable, [], "no file under stateDir is readable by nobody");
        const dirs = ["", "nginx", "nginx/logs", "pools/blue/host-1"];
        const listable = dirs.filter((dir) => asNobody(["ls", path.join(stack.stateDir, dir)]).status === 0);
        assert.deepEqual(listable, [], "no directory under stateDir is listable by nobody");
        const backend = asNobody(["ls", path.join(stack.dir, "backend")]);
        assert.notEqual(backend.status, 0, "the file backend (state, history) is not listable by nobody");
        recordOutcome({
            area: "security",
            fault: "as another local user (nobody): read logs, tokens, config under stateDir; list it, the backend",
            expected: "permission denied for every file and directory",
            observed: `${files.length} files and ${dirs.length} directories refused; backend refused`,
            sent: 0,
            lost: 0,
        });
    });

    it("the internal listener answers on loopback only; changing the live colour needs the control token", async () => {
        const internalPort = Number(new URL(stack.internalUrl).port);
        const other = externalAddress();
        for (const address of [other, "127.0.0.2"].filter(Boolean) as string[]) {
            await assert.rejects(
                getJson(`http://${address}:${internalPort}/green/`),
                /ECONNREFUSED/,
                `the internal listener is not bound on ${address}`,
            );
        }
        const steal = await request(`${stack.internalUrl}/bluegreen/live`, "POST", {}, "green");
        assert.equal(steal.status, 403);
        const wrong = await request(
            `${stack.internalUrl}/bluegreen/live`,
            "POST",
            { "X-Bluegreen-Token": "guess" },
            "green",
        );
        assert.equal(wrong.status, 403);
        assert.equal((await getJson(`${stack.publicUrl}/`)).headers["x-deploy-color"], "blue");
        const publicControl = await request(`${stack.publicUrl}/bluegreen/live`, "POST", {}, "green");
        assert.equal(
            publicControl.headers["x-deploy-color"],
            "blue",
            "the public listener has no control endpoint: the request just goes to the live app",
        );
        recordOutcome({
            area: "security",
            fault:
                `reach the internal listener on ${other ?? "(no external address)"} and 127.0.0.2; ` +
                `POST /bluegreen/live without and with a wrong token`,
            expected: "connection refused off loopback; 403 without the token; live colour unchanged",
            observed: "refused; 403, 403; still blue",
            sent: 5,
            lost: 0,
        });
    });
    /**
     * Kills host 1 of `color` (a crash: no supervisor restarts it in process mode) and binds its
     * port with another process, run by anyone, that answers /health as the app would.
     */
    async function squat(color: "blue" | "green"): Promise<{ squatter: ChildProcess; port: number }> {
        const victim = await stack.appStatus(color, 1);
        const port = stack.hostPort(color, 1);
        process.kill(victim.pid, "SIGKILL");
        const squatter = spawn(
            process.execPath,
            [
                "-e",
                `require("node:http").createServer((req, res) => {
                    res.setHeader("content-type", "application/json");
                    res.end(JSON.stringify({ status: "ready", version: process.argv[2], color: process.argv[3],
                        who: "squatter" }));
                }).listen(Number(process.argv[1]), "127.0.0.1", () => console.log("listening"));`,
                String(port),
                victim.version,
                color,
            ],
            { stdio: ["ignore", "pipe", "inherit"] },
        );
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("the squatter never listened")), 10_000);
            squatter.stdout.on("data", () => (clearTimeout(timer), resolve()));
        });
        const answered = await getJson<{ who?: string }>(`http://127.0.0.1:${port}/health`);
        assert.equal(answered.body.who, "squatter", "the squatter holds the port");
        return { squatter, port };
    }

    /** Stops the squatter, then redeploys the host it squatted: pulumi up --replace of its deploy. */
    async function unsquat(squatter: ChildProcess, color: "blue" | "green"): Promise<void> {
        squatter.kill("SIGKILL");
        await new Promise((resolve) => (squatter.exitCode === null ? squatter.on("exit", resolve) : resolve(0)));
        const urn = (await stack.stack.exportStack()).deployment.resources
            .map((r: { urn: string }) => r.urn)
            .find((u: string) => u.endsWith(`::${color}-host-1`));
        assert.ok(urn, `the deploy command of ${color}-1 is in the state`);
        const redeployed = await stack.stack.up({ onOutput: () => undefined, replace: [urn] });
        assert.equal(redeployed.summary.result, "succeeded");
        assert.equal((await stack.appStatus(color, 1)).status, "ready", "the host was redeployed");
    }

    it("another process on a live app's port: preview and up refuse to go on, naming it; --replace heals", async () => {
        const live = String((await getJson(`${stack.internalUrl}/bluegreen/live`)).body) as "blue" | "green";
        const { squatter, port } = await squat(live);
        try {
            let output = "";
            await assert.rejects(stack.stack.preview({ onOutput: (t) => (output += t) }));
            assert.match(
                output,
                new RegExp(
                    `${live}-1 \\(127\\.0\\.0\\.1:${port}\\) is answered by another process: its /health echoes ` +
                        `instance 'none', the last deploy started '[0-9a-f]{32}'.*It receives live traffic now\\. ` +
                        "Fix: stop what holds the port, then redeploy the host: pulumi up --replace",
                ),
            );
            output = "";
            await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            assert.match(output, /is answered by another process/, "up refuses too: no '15 unchanged'");
        } finally {
            await unsquat(squatter, live);
        }
        const preview = await stack.stack.preview({ onOutput: () => undefined });
        assert.equal(preview.changeSummary.update ?? 0, 0, "after --replace nothing is left to change");
        recordOutcome({
            area: "security",
            fault: `kill ${live}-1's app (live), bind its port with another process answering /health ready`,
            expected: "preview and up refuse naming the host, what answered and the fix; --replace heals",
            observed: `both refused naming ${live}-1 (echoed no instance id); after --replace it serves again`,
            sent: 0,
            lost: 0,
        });
    });

    // Last: it leaves a host redeployed (put back by a targeted --replace).
    it("a process that takes a freed app port gets no traffic: the gate finds it is not the deployed app", async () => {
        const live = String((await getJson(`${stack.internalUrl}/bluegreen/live`)).body);
        const idle = live === "blue" ? "green" : "blue";
        const { squatter, port } = await squat(idle);
        try {
            await stack.stack.setConfig("activeColor", { value: idle });
            let output = "";
            await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            assert.match(
                output,
                new RegExp(
                    `gate failed: ${idle}-1 \\(127\\.0\\.0\\.1:${port}\\) is answered by another process: ` +
                        `its /health echoes instance 'none', the deploy started '[0-9a-f]{32}'`,
                ),
            );
            const served = await getJson(`${stack.publicUrl}/`);
            assert.equal(served.headers["x-deploy-color"], live, "traffic stayed on the live pool");
            assert.equal(String((await getJson(`${stack.internalUrl}/bluegreen/live`)).body), live);
            recordOutcome({
                area: "security",
                fault: `kill ${idle}-1's app, bind its port with another process answering /health ready, then switch`,
                expected: "the gate fails naming the host and what answered; traffic stays; nothing switched",
                observed: `gate failed at once for ${idle}-1 (echoed no instance id); ${live} still live`,
                sent: 1,
                lost: 0,
            });
        } finally {
            await stack.stack.setConfig("activeColor", { value: live });
            await unsquat(squatter, idle);
        }
    });
});
