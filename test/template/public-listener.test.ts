// The public listener of a rendered config, served by a real nginx in front of an app that
// answers everything: private paths stay private in every spelling an app may read as theirs,
// one client cannot hold every connection, and a slow body is cut off.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { renderNginxConfig } from "../../components/nginxConfig";
import { freePorts } from "../../scripts/lib/localStack";
import { createNginxPrefix, startNginx, stopNginx } from "../../scripts/lib/nginxPrefix";
import { recordOutcome } from "../../scripts/lib/reliability";

/** The status code nginx answers a raw request line with (no client library normalises the path). */
function rawStatus(port: number, target: string, localAddress = "127.0.0.1"): Promise<number> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1", localAddress }, () =>
            socket.write(`GET ${target} HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n`),
        );
        let head = "";
        socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to GET ${target}`)));
        socket.on("data", (chunk: Buffer) => {
            head += chunk.toString("latin1");
            const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
            if (status) {
                socket.destroy();
                resolve(Number(status[1]));
            }
        });
        socket.on("error", reject);
    });
}

/** A POST whose headers arrive and whose body never finishes: the connection stays open. */
function slowBody(port: number, localAddress: string): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1", localAddress }, () => {
            socket.write("POST /upload HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 1000\r\n\r\nx");
            resolve(socket);
        });
        socket.on("error", reject);
    });
}

describe("the public listener in front of an app that answers every path (real nginx)", function () {
    this.timeout(60_000);
    let prefix: string;
    let app: http.Server;
    let publicPort: number;
    const reachedApp: string[] = [];

    before(async () => {
        const ports = await freePorts(1);
        publicPort = ports.publicPort;
        app = http.createServer((req, res) => {
            reachedApp.push(req.url ?? "");
            res.end(`app saw ${req.url}\n`);
        });
        await new Promise<void>((resolve) => app.listen(ports.base + 1, "127.0.0.1", resolve));
        const { text } = renderNginxConfig({
            prefix: "/PREFIX",
            switchMode: "reload",
            liveColor: "blue",
            pools: { blue: [{ address: "127.0.0.1", port: ports.base + 1 }], green: [] },
            publicAddress: "127.0.0.1",
            publicPort,
            internalAddress: "127.0.0.1",
            internalPort: ports.internalPort,
            workerShutdownTimeoutSeconds: 1,
            workerProcesses: 1,
            privatePaths: ["/status", "/admin/stats.json"],
            clientConnectionLimit: 4,
            clientRequestRate: 50,
        });
        prefix = createNginxPrefix("public-listener");
        fs.writeFileSync(path.join(prefix, "conf", "nginx.conf"), text.replaceAll("/PREFIX", prefix));
        startNginx(prefix);
    });

    after(async () => {
        if (prefix) stopNginx(prefix);
        await new Promise((resolve) => app?.close(resolve));
        if (prefix) fs.rmSync(prefix, { recursive: true, force: true });
    });

    const hidden = [
        "/status",
        "/STATUS",
        "/Status/",
        "/status/",
        "/status/history",
        "//status",
        "/x/../status",
        "/x/%2e%2e/status",
        "/%73tatus",
        "/%53TATUS",
        "/admin/STATS.JSON",
        "/admin/stats%2ejson",
        "/health/drain",
        "/HEALTH/drain",
        "/Health/",
    ];
    const refused = ["/x/..\\status", "/x/..%5cstatus", "/x/..%5Cstatus", "/public\\..\\status"];

    it("every spelling of a private path, and any path with a backslash: 404, never the app", async () => {
        for (const target of [...hidden, ...refused]) {
            assert.equal(await rawStatus(publicPort, target), 404, `GET ${target}`);
        }
        // Not even a path: nginx refuses the request line itself.
        assert.equal(await rawStatus(publicPort, "\\status"), 400, "GET \\status");
        assert.deepEqual(reachedApp, [], "the app saw none of them");
        // Only the paths themselves: a neighbour is the app's.
        for (const target of ["/statusboard", "/admin/stats.jsonp", "/healthz", "/"]) {
            assert.equal(await rawStatus(publicPort, target), 200, `GET ${target}`);
        }
        assert.deepEqual(reachedApp, ["/statusboard", "/admin/stats.jsonp", "/healthz", "/"]);
        recordOutcome({
            area: "security",
            fault:
                `private paths in ${hidden.length + refused.length} spellings (case, trailing slash, dot segments, ` +
                "percent-encoding, backslashes raw and encoded)",
            expected: "404; the app never sees them; neighbouring paths still served",
            observed: `${hidden.length + refused.length} × 404, app saw none; 4 neighbours served`,
            sent: hidden.length + refused.length + 5,
            lost: 0,
        });
    });

    it("one client holds at most its connection limit; past it 429 at once, while others are served", async () => {
        // Loopback is 127.0.0.0/8: 127.0.0.2 is another client to nginx.
        const held = await Promise.all(Array.from({ length: 4 }, () => slowBody(publicPort, "127.0.0.2")));
        try {
            // Each slow POST is counted once nginx has its headers: give it a moment to read them.
            let status = 0;
            for (let attempt = 0; attempt < 50 && status !== 429; attempt++) {
                status = await rawStatus(publicPort, "/", "127.0.0.2");
                if (status !== 429) await new Promise((resolve) => setTimeout(resolve, 20));
            }
            assert.equal(status, 429, "the same client's fifth connection is refused");
            assert.equal(await rawStatus(publicPort, "/", "127.0.0.1"), 200, "another client is served");
        } finally {
            for (const socket of held) socket.destroy();
        }
        recordOutcome({
            area: "security",
            fault: "one client opens slow-body connections up to its limit (4 here; clientConnectionLimit), then more",
            expected: "past the limit 429 at once; other clients served",
            observed: "fifth connection 429; another client 200",
            sent: 6,
            lost: 0,
        });
    });

    it("one client past its request rate (and burst) gets 429; another client is still served", async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 150; i++) statuses.push(await rawStatus(publicPort, "/", "127.0.0.4"));
        const ok = statuses.filter((s) => s === 200).length;
        const limited = statuses.filter((s) => s === 429).length;
        assert.equal(ok + limited, 150, `only 200 and 429: ${[...new Set(statuses)].join(", ")}`);
        assert.ok(ok >= 100, `the burst (twice the rate: 100) is served: ${ok} were`);
        assert.ok(limited > 0, "past the burst, requests are refused");
        assert.equal(await rawStatus(publicPort, "/", "127.0.0.1"), 200, "another client is served");
        recordOutcome({
            area: "security",
            fault: "one client sends 150 requests back to back (clientRequestRate 50 here, burst 100)",
            expected: "the burst served, the rest 429 at once; other clients served",
            observed: `${ok} × 200, ${limited} × 429; another client 200`,
            sent: 151,
            lost: 0,
        });
    });

    it("a body that stops arriving is cut off after 15 s, not held open", async () => {
        const socket = await slowBody(publicPort, "127.0.0.3");
        const started = Date.now();
        const closedAfter = await new Promise<number>((resolve, reject) => {
            socket.on("close", () => resolve(Date.now() - started));
            setTimeout(() => reject(new Error("a silent body held its connection for 25 s")), 25_000);
        });
        assert.ok(closedAfter >= 13_000 && closedAfter <= 20_000, `closed after ${closedAfter} ms`);
        recordOutcome({
            area: "security",
            fault: "a POST whose body stops after one byte",
            expected: "nginx closes it after client_body_timeout (15 s)",
            observed: `closed after ${(closedAfter / 1000).toFixed(1)} s`,
            sent: 1,
            lost: 0,
        });
    });
});
