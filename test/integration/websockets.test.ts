// WebSockets across a pool scaled to 0, on the local target in no-reload mode, with a WebSocket
// app (test/fixtures/ws-app) whose drain closes every socket with 1001. The reload that removes
// the pool leaves its sockets to nginx's old workers, which cut them after worker_shutdown_timeout
// (the drain timeout + 5 s): the switch drains the removed hosts right after that reload, so their
// sockets close cleanly however late the hosts' deletes run. Here they run late: the switch's
// smoke checks ask six expensive pages (1.5 s each) after the reload, and deletes come last.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import WebSocket from "ws";
import { LocalStack, createLocalStack } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { recordOutcome } from "../../scripts/lib/reliability";

const SOCKETS = 20;
const DRAIN_TIMEOUT_SECONDS = 2;

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

describe("WebSockets on a pool scaled to 0: closed by the app's drain, never cut (local, no-reload)", function () {
    let stack: LocalStack;
    let clients: Client[] = [];

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
        await stack?.dispose();
    });

    it("blue's sockets outlive the switch to green, then close with 1001 when blue is removed", async () => {
        const url = stack.publicUrl.replace(/^http:/, "ws:");
        clients = Array.from({ length: SOCKETS }, () => connect(`${url}/`));
        const greetings = await Promise.all(clients.map((c) => c.greeting));
        assert.deepEqual(new Set(greetings), new Set(["hello from blue 1.0.0"]));

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
        const shutdownTimeout = DRAIN_TIMEOUT_SECONDS + 5;
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
        assert.equal(await fresh.greeting, "hello from green 1.0.0", "new sockets go to green");
        fresh.socket.close();
    });
});
