// WebSockets and long polls on hosts an update removes, on the local target in no-reload mode, with
// a WebSocket app (test/fixtures/ws-app) whose drain closes every socket with 1001 and answers every
// held poll. The reload that removes hosts leaves what they hold to nginx's old workers, which cut it
// after worker_shutdown_timeout: the switch drains removed hosts itself (the idle pool's right after
// that reload, the live pool's once the switch is verified), and the old workers wait for that
// drain, so nothing is cut however late the hosts' deletes run. Here the switch's smoke checks ask
// six expensive pages (1.5 s each) after the reload, and deletes come last.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import WebSocket from "ws";
import { LocalStack, createLocalStack } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";
import { nginxWorkers } from "../support/nginxCheck";

const SOCKETS = 20;
const POLLS = 10;
const DRAIN_TIMEOUT_SECONDS = 2;
/**
 * An app's shutdown bound: what nginx's old workers waited before they waited for the switch's drain,
 * so a drain later than this after the reload is one they would have cut first.
 */
const SHUTDOWN_TIMEOUT_SECONDS = DRAIN_TIMEOUT_SECONDS + 5;

interface Client {
    readonly socket: WebSocket;
    readonly greeting: Promise<string>;
    /** Echoes received, in order. */
    readonly echoes: string[];
    closed?: { code: number; reason: string; atMs: number };
}

function connect(url: string): Client {
    const socket = new WebSocket(url);
    const echoes: string[] = [];
    const client: Client = {
        socket,
        echoes,
        greeting: new Promise((resolve, reject) => {
            socket.once("message", (data) => resolve(String(data)));
            socket.once("error", reject);
        }),
    };
    socket.on("message", (data) => echoes.push(String(data)));
    socket.on("close", (code, reason) => (client.closed = { code, reason: String(reason), atMs: Date.now() }));
    socket.on("error", () => undefined); // a cut socket's error comes with its close, which is what is checked
    return client;
}

interface Poll {
    readonly request: http.ClientRequest;
    /** Its answer (or why it failed), once it has one. */
    outcome?: { status?: number; body?: string; error?: string; atMs: number };
}

/** A long poll on its own connection (nginx balances it as it balances a new client). */
function longPoll(url: string): Poll {
    const request = http.get(url, { agent: false });
    const poll: Poll = { request };
    request.on("response", (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => (poll.outcome ??= { status: res.statusCode, body, atMs: Date.now() }));
        res.on("error", (error) => (poll.outcome ??= { error: error.message, atMs: Date.now() }));
    });
    request.on("error", (error) => (poll.outcome ??= { error: error.message, atMs: Date.now() }));
    return poll;
}

/** The pid a greeting names: "hello from green 1.0.0 (pid 4242)". */
function greetingPid(greeting: string): number {
    const pid = /\(pid (\d+)\)$/.exec(greeting)?.[1];
    assert.ok(pid, `a greeting names its process: ${greeting}`);
    return Number(pid);
}

describe("WebSockets on a pool scaled to 0: closed by the app's drain, never cut (local, no-reload)", function () {
    let stack: LocalStack;
    let clients: Client[] = [];
    let polls: Poll[] = [];

    before(async () => {
        stack = await createLocalStack({
            switchMode: "no-reload",
            drainTimeoutSeconds: String(DRAIN_TIMEOUT_SECONDS),
            smokePaths: JSON.stringify(["/", "/slow-1", "/slow-2", "/slow-3", "/slow-4", "/slow-5", "/slow-6"]),
        });
        const release = path.join(stack.dir, "ws-app");
        fs.cpSync(path.join(REPO_ROOT, "test", "fixtures", "ws-app"), release, { recursive: true });
        fs.cpSync(path.dirname(require.resolve("ws/package.json")), path.join(release, "node_modules", "ws"), {
            recursive: true,
        });
        await stack.stack.setConfig("blueArtifact", { value: release });
        await stack.stack.setConfig("greenArtifact", { value: release });
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
    });

    after(async () => {
        for (const client of clients) client.socket.terminate();
        for (const poll of polls) poll.request.destroy();
        await stack?.dispose();
    });

    it("blue's sockets outlive the switch to green, then close with 1001 when blue is removed", async () => {
        const url = stack.publicUrl.replace(/^http:/, "ws:");
        clients = Array.from({ length: SOCKETS }, () => connect(`${url}/`));
        const greetings = await Promise.all(clients.map((c) => c.greeting));
        for (const greeting of greetings) assert.match(greeting, /^hello from blue 1\.0\.0 \(pid \d+\)$/);

        await stack.stack.setConfig("activeColor", { value: "green" });
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
        for (const client of clients) client.socket.send("after the switch");
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const client of clients) {
            assert.equal(client.closed, undefined, "a switch without a reload keeps every socket");
            assert.ok(client.echoes.includes("blue 1.0.0: after the switch"), `echoes: ${client.echoes.join(" | ")}`);
        }

        // Blue removed. Its hosts' deletes come after the switch, whose checks take 9 s or more.
        await stack.stack.setConfig("blueHosts", { value: "0" });
        const upStarted = Date.now();
        const removed = await stack.stack.up({ onOutput: () => undefined });
        assert.equal(removed.summary.result, "succeeded");
        const upEnded = Date.now();
        const shutdownTimeout = SHUTDOWN_TIMEOUT_SECONDS;
        const codes = clients.map((c) => c.closed?.code);
        const closedAfterMs = clients.map((c) => (c.closed ? c.closed.atMs - upStarted : -1));
        const clean = clients.filter((c) => c.closed?.code === 1001 && c.closed.reason === "draining").length;
        const lastClose = Math.max(...clients.map((c) => c.closed?.atMs ?? upEnded));
        recordOutcome({
            target: "local",
            area: "websockets",
            fault:
                `${SOCKETS} WebSockets on blue, blue scaled to 0; its deletes ran ` +
                `${((upEnded - lastClose) / 1000).toFixed(1)} s after the last socket closed ` +
                `(old workers' shutdown timeout ${shutdownTimeout} s)`,
            expected: "every socket closed by the app's drain (1001), none cut by nginx (1006)",
            observed:
                `${clean} closed with 1001, codes ${[...new Set(codes)].join("/")}, ` +
                `the last ${Math.max(...closedAfterMs)} ms after the update started`,
            sent: SOCKETS,
            lost: SOCKETS - clean,
        });
        assert.deepEqual(codes, Array(SOCKETS).fill(1001), "every socket closed by the app's drain, none cut");
        assert.ok(
            upEnded - lastClose > shutdownTimeout * 1000,
            `the deletes ran more than ${shutdownTimeout} s after the sockets closed (the premise): ` +
                `${upEnded - lastClose} ms`,
        );
        const appLog = fs.readFileSync(path.join(stack.stateDir, "pools", "blue", "host-1", "app.log"), "utf8");
        assert.match(appLog, /"event":"draining","reason":"POST \/health\/drain"/, "the switch drained blue-1");

        const fresh = connect(`${url}/`);
        assert.match(await fresh.greeting, /^hello from green 1\.0\.0 /, "new sockets go to green");
        fresh.socket.close();
        for (const client of clients) client.socket.terminate();
    });

    it("the live pool loses a host: sockets and polls close by its drain after verification, none cut", async () => {
        // Green (live) gets a second host, then loses it again. The removed green-2 served until this
        // update, so it is drained only once the switch is verified (9 s of smoke checks after the
        // reload), later than the drain timeout + 5 s: nginx's old workers must wait for that drain.
        await stack.stack.setConfig("greenHosts", { value: "2" });
        assert.equal((await stack.stack.up({ onOutput: () => undefined })).summary.result, "succeeded");
        const url = stack.publicUrl.replace(/^http:/, "ws:");
        clients = Array.from({ length: SOCKETS }, () => connect(`${url}/`));
        const pids = (await Promise.all(clients.map((c) => c.greeting))).map(greetingPid);
        const green2 = (await stack.appStatus("green", 2)).pid;
        const onGreen2 = clients.filter((_, i) => pids[i] === green2);
        assert.ok(onGreen2.length > 0 && onGreen2.length < SOCKETS, `sockets on green-2: ${onGreen2.length}`);
        polls = Array.from({ length: POLLS }, () => longPoll(`${stack.publicUrl}/poll`));
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.deepEqual(
            polls.filter((p) => p.outcome),
            [],
            "every poll is held",
        );

        // The reload that removes green-2 is when nginx's worker processes change.
        const prefix = path.join(stack.stateDir, "nginx");
        const workersBefore = nginxWorkers(prefix).join(" ");
        let reloadedAt = 0;
        const watch = setInterval(() => {
            if (!reloadedAt && nginxWorkers(prefix).join(" ") !== workersBefore) reloadedAt = Date.now();
        }, 50);
        await stack.stack.setConfig("greenHosts", { value: "1" });
        let result;
        try {
            result = await stack.stack.up({ onOutput: () => undefined });
        } finally {
            clearInterval(watch);
        }
        assert.equal(result.summary.result, "succeeded");
        assert.ok(reloadedAt > 0, "the update reloaded nginx");

        const drained = onGreen2.map((c) => c.closed);
        const answered = polls.filter((p) => p.outcome?.status === 200);
        const failedPolls = polls.filter((p) => p.outcome && p.outcome.status !== 200);
        const firstDrainMs = Math.min(...drained.map((c) => c?.atMs ?? Infinity)) - reloadedAt;
        recordOutcome({
            target: "local",
            area: "websockets",
            fault:
                `${SOCKETS} WebSockets and ${POLLS} long polls on the live pool, one of its two hosts removed; ` +
                `drained ${firstDrainMs} ms after the reload (the drain timeout + 5 s: ${SHUTDOWN_TIMEOUT_SECONDS} s)`,
            expected: "the removed host's sockets closed with 1001 and polls answered by its drain; nothing cut",
            observed:
                `${drained.filter((c) => c?.code === 1001).length} of ${onGreen2.length} sockets closed with 1001, ` +
                `${answered.length} polls answered, ${failedPolls.length} failed`,
            sent: SOCKETS + POLLS,
            lost: drained.filter((c) => c?.code !== 1001).length + failedPolls.length,
        });
        assert.deepEqual(
            drained.map((c) => `${c?.code} ${c?.reason}`),
            onGreen2.map(() => "1001 draining"),
            "green-2's sockets closed by its drain",
        );
        assert.ok(
            firstDrainMs > SHUTDOWN_TIMEOUT_SECONDS * 1000,
            `green-2 was drained more than the drain timeout + 5 s after the reload (the premise): ${firstDrainMs} ms`,
        );
        assert.deepEqual(
            failedPolls.map((p) => p.outcome),
            [],
            "no long poll cut",
        );
        assert.ok(answered.length > 0, "some polls were held by green-2");
        for (const poll of answered) {
            assert.deepEqual(JSON.parse(poll.outcome?.body ?? "{}"), {
                event: "reconnect",
                reason: "draining",
                color: "green",
                pid: green2,
            });
        }
        // green-1 keeps its own: sockets still open (no later than the old workers' own bound).
        for (const [i, client] of clients.entries()) {
            if (pids[i] !== green2) assert.equal(client.closed, undefined, "green-1's sockets stay open");
        }
    });
});
