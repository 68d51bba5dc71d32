// The canary of a rendered config (no-reload mode), served by a real nginx in front of two apps:
// set through the internal listener with the control token, it sends its share of clients to the
// canary colour, each client kept on its pool by the bluegreen_client cookie nginx gives it, and
// no client can pick its share (a keyed hash). Nothing reloads; the apps see the colour they serve.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { startNginx, stopNginx } from "../../scripts/lib/nginxPrefix";
import { metricSamples } from "../support/metrics";
import { call, control, loopbackConfig, nginxWorkers, serveRendered, stopServing } from "../support/nginxCheck";

const TOKEN = "a".repeat(48);
const CANARY_KEY = "k".repeat(40);

/** A client's share (0-99) as nginx computes it with CANARY_KEY: md5's first four bytes. */
function shareOf(id: string): number {
    return (
        createHash("md5")
            .update(CANARY_KEY + id)
            .digest()
            .readUInt32BE(0) % 100
    );
}

/** A pool host that answers with its colour and the X-Deploy-Color nginx sent it. */
function startApp(color: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        res.end(`${color} ${String(req.headers["x-deploy-color"])}\n`);
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** The id of a bluegreen_client cookie nginx set, if it set one. */
function clientCookie(headers: http.IncomingHttpHeaders): string | undefined {
    const cookie = (headers["set-cookie"] ?? []).find((c) => c.startsWith("bluegreen_client="));
    return cookie ? /^bluegreen_client=([0-9a-f]{32});/.exec(cookie)?.[1] : undefined;
}

describe("canary: a share of clients on the idle colour, sticky (no-reload mode, real nginx)", function () {
    this.timeout(60_000);
    let prefix: string | undefined;
    let apps: http.Server[] = [];
    let base: string;
    let internal: string;
    let token = TOKEN;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

    /** Sets the canary as the switch does: with the token, handing nginx the next one. */
    async function setCanary(value: string): Promise<void> {
        const next = createHash("sha256").update(token).digest("hex");
        assert.deepEqual(await control(internal, "canary", value, token, next), { status: 200, body: value });
        token = next;
    }

    /** One public GET on a kept-alive connection, with the client's cookie if it has one. */
    function get(id?: string): Promise<{ color: string; app: string; cookie?: string }> {
        return new Promise((resolve, reject) => {
            const headers = id ? { Cookie: `other=1; bluegreen_client=${id}` } : {};
            http.get(`${base}/page`, { agent, headers }, (res) => {
                let body = "";
                res.on("data", (c: Buffer) => (body += c.toString()));
                res.on("end", () =>
                    resolve({
                        color: String(res.headers["x-deploy-color"]),
                        app: body.trim(),
                        cookie: clientCookie(res.headers),
                    }),
                );
            }).on("error", reject);
        });
    }

    before(async () => {
        const ports = await freePorts(2);
        apps = [
            await startApp("blue", localAppPort(ports.base, "blue", 1)),
            await startApp("green", localAppPort(ports.base, "green", 1)),
        ];
        base = `http://127.0.0.1:${ports.publicPort}`;
        internal = `http://127.0.0.1:${ports.internalPort}`;
        const config = { ...loopbackConfig(ports, "no-reload"), tls: undefined };
        prefix = serveRendered("canary", config, TOKEN);
        // The key nginx-switch.sh writes once; nginx reads it when it starts.
        fs.writeFileSync(path.join(prefix, "conf", "canary-key"), `${CANARY_KEY}\n`);
        stopNginx(prefix);
        startNginx(prefix);
    });
    after(async () => {
        agent.destroy();
        await stopServing(prefix, apps);
    });

    it("is off until set: every client on the live colour, no cookie given", async () => {
        assert.equal((await call(`${internal}/bluegreen/canary`)).body, "off");
        for (let i = 0; i < 20; i++) {
            const answer = await get();
            assert.deepEqual(answer, { color: "blue", app: "blue blue", cookie: undefined });
        }
    });

    it("takes only the control token and a pool's colour with 1-100", async () => {
        assert.equal((await control(internal, "canary", "green 10", "f".repeat(48), "e".repeat(48))).status, 403);
        for (const bad of ["green 0", "green 101", "purple 10", "green", "10"]) {
            const refused = await control(internal, "canary", bad, token, "e".repeat(48));
            assert.equal(refused.status, 400, bad);
            assert.match(refused.body, /off, or a pool's colour and 1-100/);
        }
        assert.equal((await call(`${internal}/bluegreen/canary`)).body, "off", "nothing changed");
    });

    it("sends 10% ±2 points of new clients to green, each kept there by its cookie, without a reload", async () => {
        const workers = nginxWorkers(prefix!);
        await setCanary("green 10");
        // Each request without a cookie is a new client.
        const clients: { id: string; color: string }[] = [];
        for (let i = 0; i < 4000; i++) {
            const answer = await get();
            assert.ok(answer.cookie, "a new client gets its id");
            assert.equal(answer.app, `${answer.color} ${answer.color}`, "the app sees the colour that serves it");
            clients.push({ id: answer.cookie, color: answer.color });
        }
        const green = clients.filter((c) => c.color === "green").length;
        const share = (100 * green) / clients.length;
        assert.ok(Math.abs(share - 10) <= 2, `green got ${share.toFixed(2)}% of new clients, expected 10 ±2`);
        assert.equal(new Set(clients.map((c) => c.id)).size, clients.length, "every client its own id");

        // The share is a hash of the id with nginx's key: the test, which knows the key, agrees.
        const expected = (id: string) => shareOf(id) < 10;
        for (const c of clients.slice(0, 500)) assert.equal(c.color === "green", expected(c.id), c.id);

        // Sticky: 300 clients come back 3 times each with their cookie, and get no new one.
        for (const c of clients.slice(0, 300)) {
            for (let visit = 0; visit < 3; visit++) {
                const again = await get(c.id);
                assert.equal(again.color, c.color, `client ${c.id} bounced`);
                assert.equal(again.cookie, undefined, "a known client keeps its id");
            }
        }
        // A cookie that is not an id nginx gives is a new client.
        assert.ok((await get("0123")).cookie);
        assert.deepEqual(nginxWorkers(prefix!), workers, "the same workers: no reload");

        // A larger share keeps every green client green and adds others.
        await setCanary("green 30");
        let nowGreen = 0;
        for (const c of clients.slice(0, 1000)) {
            const again = await get(c.id);
            if (c.color === "green") assert.equal(again.color, "green", `client ${c.id} left the canary`);
            if (again.color === "green") nowGreen++;
        }
        assert.ok(Math.abs(nowGreen / 10 - 30) <= 5, `green got ${nowGreen / 10}% of the same clients at 30%`);

        // The switch's verification asks for a client of either side.
        for (const side of ["canary", "live"]) {
            const id = (await call(`${internal}/bluegreen/canary-client?side=${side}`)).body;
            assert.match(id, /^[0-9a-f]{32}$/);
            assert.equal((await get(id)).color, side === "canary" ? "green" : "blue", side);
        }
    });

    it("ends: off sends every client back to the live colour; a canary of the live colour is inert", async () => {
        const green = (await call(`${internal}/bluegreen/canary-client?side=canary`)).body;
        await setCanary("off");
        assert.deepEqual(await get(green), { color: "blue", app: "blue blue", cookie: undefined });
        // A switch to green sets the colour first, then ends the canary: in between, all on green.
        await setCanary("green 30");
        const next = createHash("sha256").update(token).digest("hex");
        assert.deepEqual(await control(internal, "live", "green", token, next), { status: 200, body: "green" });
        token = next;
        for (let i = 0; i < 50; i++) assert.equal((await get()).color, "green");
        await setCanary("green 100");
        assert.equal((await get()).color, "green");
    });

    it("comes back after a restart with the canary and key of conf/, and counts by colour", async () => {
        fs.writeFileSync(path.join(prefix!, "conf", "live-color"), "blue\n");
        fs.writeFileSync(path.join(prefix!, "conf", "canary"), "green 50\n");
        fs.writeFileSync(path.join(prefix!, "conf", "control-token"), `${token}\n`);
        stopNginx(prefix!);
        startNginx(prefix!);
        assert.equal((await call(`${internal}/bluegreen/canary`)).body, "green 50");
        // The same key after the restart: 20 clients nginx names on each side agree with the test's key.
        for (const side of ["canary", "live"]) {
            for (let i = 0; i < 20; i++) {
                const id = (await call(`${internal}/bluegreen/canary-client?side=${side}`)).body;
                const share = shareOf(id);
                assert.equal(share < 50, side === "canary", `${side} client ${id} placed by another key`);
            }
        }
        const counted = { blue: 0, green: 0 };
        for (let i = 0; i < 200; i++) counted[(await get()).color as "blue" | "green"]++;
        assert.ok(counted.green > 50 && counted.blue > 50, `about half each: ${JSON.stringify(counted)}`);
        // nginx's metrics (counted afresh since the restart) agree with the clients, to the request.
        const samples = metricSamples((await call(`${internal}/metrics`)).body);
        for (const color of ["blue", "green"] as const) {
            assert.equal(samples.get(`bluegreen_requests_total{color="${color}",class="2xx"}`), counted[color], color);
        }
    });
});
