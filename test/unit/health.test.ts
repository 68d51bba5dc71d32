// The health contract module with a real HTTP server on a loopback port.
import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { HealthContract } from "../../app/health";

function call(
    port: number,
    method: string,
    path: string,
    headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                resolve({
                    status: res.statusCode ?? 0,
                    body: text ? JSON.parse(text) : undefined,
                    headers: res.headers,
                });
            });
        });
        req.on("error", reject);
        req.end();
    });
}

describe("health contract (app/health.ts)", () => {
    let server: http.Server;
    let port: number;
    let health: HealthContract;
    let drained: () => void;
    let drainedPromise: Promise<void>;
    let token = "secret-token-123456";

    beforeEach(async () => {
        drainedPromise = new Promise((resolve) => (drained = resolve));
        health = new HealthContract({
            version: "1.2.3",
            color: "green",
            drainToken: () => token,
            drainTimeoutMs: 2000,
            onDrained: () => drained(),
        });
        server = http.createServer();
        health.attach(server, (req, res) => {
            const ms = Number(new URL(req.url ?? "/", "http://x").searchParams.get("ms") ?? "0");
            setTimeout(() => res.end(JSON.stringify({ ok: true })), ms);
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as AddressInfo).port;
    });

    afterEach(() => {
        server.closeAllConnections();
        server.close();
        process.removeAllListeners("SIGTERM");
    });

    it("answers 503 starting until ready, then 200 ready with version and colour", async () => {
        const starting = await call(port, "GET", "/health");
        assert.equal(starting.status, 503);
        assert.equal(starting.body.status, "starting");
        health.ready();
        const ready = await call(port, "GET", "/health");
        assert.equal(ready.status, 200);
        assert.deepEqual([ready.body.status, ready.body.version, ready.body.color], ["ready", "1.2.3", "green"]);
    });

    it("refuses to drain without the right token", async () => {
        health.ready();
        assert.equal((await call(port, "POST", "/health/drain")).status, 403);
        assert.equal(
            (await call(port, "POST", "/health/drain", { Authorization: "Bearer wrong-token-00000" })).status,
            403,
        );
        assert.equal(health.current, "ready");
    });

    it("reads a rotated token at each drain request", async () => {
        health.ready();
        token = "rotated-token-654321";
        assert.equal(
            (await call(port, "POST", "/health/drain", { Authorization: "Bearer secret-token-123456" })).status,
            403,
        );
        assert.equal(
            (await call(port, "POST", "/health/drain", { Authorization: "Bearer rotated-token-654321" })).status,
            202,
        );
        await drainedPromise;
        token = "secret-token-123456";
    });

    it("draining lets a request in flight finish, then reports drained", async () => {
        health.ready();
        const agent = new http.Agent({ keepAlive: true });
        const inFlight = new Promise<number>((resolve) => {
            http.get({ host: "127.0.0.1", port, path: "/?ms=300", agent }, (res) => {
                res.resume();
                res.on("end", () => resolve(res.statusCode ?? 0));
            });
        });
        await new Promise((r) => setTimeout(r, 50));
        health.drain("test");
        assert.equal(health.current, "draining");
        assert.equal(await inFlight, 200, "the request in flight completed");
        await drainedPromise;
        agent.destroy();
    });

    it("a drained server takes no new connections", async () => {
        health.ready();
        health.drain("test");
        await drainedPromise;
        await assert.rejects(call(port, "GET", "/health"), /ECONNREFUSED/);
    });
});
