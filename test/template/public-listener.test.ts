// The public listener of a rendered config, served by a real nginx in front of an app that
// answers everything: private paths stay private in every spelling an app may read as theirs,
// one client cannot hold every connection, a slow body is cut off, and a flood of slow bodies
// from one address leaves room for everyone else.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { renderNginxConfig } from "../../components/nginxConfig";
import { freePorts } from "../../scripts/lib/localStack";
import { createNginxPrefix, nginxArgs, startNginx, stopNginx } from "../../scripts/lib/nginxPrefix";
import { recordOutcome } from "../../scripts/lib/reliability";
import { nginxWorkers, openFilesLimit } from "../support/nginxCheck";

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
    // A backslash in the query is the app's business: a search for a Windows path, say.
    const queries = ["/search?q=a%5Cb", "/search?path=C:\\x"];

    it("every spelling of a private path, and any path with a backslash: 404, never the app", async () => {
        reachedApp.length = 0;
        for (const target of [...hidden, ...refused]) {
            assert.equal(await rawStatus(publicPort, target), 404, `GET ${target}`);
        }
        // Not even a path: nginx refuses the request line itself.
        assert.equal(await rawStatus(publicPort, "\\status"), 400, "GET \\status");
        assert.deepEqual(reachedApp, [], "the app saw none of them");
        // Only the paths themselves: a neighbour is the app's.
        const neighbours = ["/statusboard", "/admin/stats.jsonp", "/healthz", "/", ...queries];
        for (const target of neighbours) assert.equal(await rawStatus(publicPort, target), 200, `GET ${target}`);
        assert.deepEqual(reachedApp, neighbours);
        recordOutcome({
            area: "security",
            fault:
                `private paths in ${hidden.length + refused.length} spellings (case, trailing slash, dot segments, ` +
                "percent-encoding, backslashes raw and encoded)",
            expected: "404; the app never sees them; neighbouring paths (and backslashes in a query) still served",
            observed: `${hidden.length + refused.length} × 404, app saw none; ${neighbours.length} neighbours served`,
            sent: hidden.length + refused.length + 7,
            lost: 0,
        });
    });

    /** Lines nginx logged since `from` (a byte offset of its error log). */
    function errorLogSince(from: number): string {
        return fs
            .readFileSync(path.join(prefix, "logs", "error.log"))
            .subarray(from)
            .toString("utf8");
    }

    it("one client holds at most its connection limit (4); past it 429 at once, while others are served", async () => {
        const logFrom = fs.statSync(path.join(prefix, "logs", "error.log")).size;
        // Loopback is 127.0.0.0/8: 127.0.0.2 is another client to nginx.
        const held = await Promise.all(Array.from({ length: 3 }, () => slowBody(publicPort, "127.0.0.2")));
        let attempts = 1;
        try {
            assert.equal(await rawStatus(publicPort, "/", "127.0.0.2"), 200, "a fourth connection is within the limit");
            held.push(await slowBody(publicPort, "127.0.0.2"));
            // A slow POST counts once nginx has read its headers: poll until the fifth is refused.
            let status = 0;
            for (; attempts <= 50 && status !== 429; attempts++) {
                status = await rawStatus(publicPort, "/", "127.0.0.2");
                if (status !== 429) await new Promise((resolve) => setTimeout(resolve, 20));
            }
            assert.equal(status, 429, "the same client's fifth connection is refused");
            assert.equal(await rawStatus(publicPort, "/", "127.0.0.1"), 200, "another client is served");
        } finally {
            for (const socket of held) socket.destroy();
        }
        assert.match(errorLogSince(logFrom), /limiting connections by zone "bluegreen_client_connections"/);
        recordOutcome({
            area: "security",
            fault: "one client holds 4 slow-body connections (clientConnectionLimit 4 here), then opens more",
            expected: "within the limit served; past it 429 at once (the connection limit); other clients served",
            observed: "fourth connection 200; fifth 429 by the connection limit; another client 200",
            sent: 4 + attempts + 1,
            lost: 0,
        });
    });

    it("one client past its request rate (and burst) gets 429; another client is still served", async () => {
        const logFrom = fs.statSync(path.join(prefix, "logs", "error.log")).size;
        // Batches in parallel (within the connection limit, 4), so the client outpaces the rate (50/s).
        const statuses: number[] = [];
        const started = Date.now();
        for (let batch = 0; batch < 500 && !statuses.includes(429); batch++) {
            const sent = Array.from({ length: 4 }, () => rawStatus(publicPort, "/", "127.0.0.4"));
            statuses.push(...(await Promise.all(sent)));
        }
        const seconds = (Date.now() - started) / 1000;
        const ok = statuses.filter((s) => s === 200).length;
        const limited = statuses.filter((s) => s === 429).length;
        assert.equal(ok + limited, statuses.length, `only 200 and 429: ${[...new Set(statuses)].join(", ")}`);
        assert.ok(limited > 0, "past the burst, requests are refused");
        assert.ok(ok >= 100, `the burst (twice the rate: 100) is served: ${ok} were`);
        // The burst plus what the rate refilled meanwhile, and no more.
        assert.ok(ok <= 101 + Math.ceil(50 * seconds) + 1, `${ok} served in ${seconds.toFixed(2)} s`);
        assert.match(errorLogSince(logFrom), /limiting requests, excess: [\d.]+ by zone "bluegreen_client_requests"/);
        assert.equal(await rawStatus(publicPort, "/", "127.0.0.1"), 200, "another client is served");
        recordOutcome({
            area: "security",
            fault: `one client sends ${statuses.length} requests, 4 at a time (clientRequestRate 50 here, burst 100)`,
            expected: "the burst and the rate served, the rest 429 at once; other clients served",
            observed: `${ok} × 200 in ${seconds.toFixed(1)} s, ${limited} × 429; another client 200`,
            sent: statuses.length + 1,
            lost: 0,
        });
    });

    it("a body that stops arriving is cut off after 15 s, not held open", async () => {
        const socket = await slowBody(publicPort, "127.0.0.3");
        const started = Date.now();
        const closedAfter = await new Promise<number>((resolve, reject) => {
            const giveUp = setTimeout(() => reject(new Error("a silent body held its connection for 25 s")), 25_000);
            socket.on("close", () => {
                clearTimeout(giveUp);
                resolve(Date.now() - started);
            });
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

/** One connection of a slow-body flood, and what nginx did with it. */
interface FloodConnection {
    readonly socket: net.Socket;
    /** Whether the TCP connection was made (within 5 s). */
    connected: boolean;
    /** The status line's code, once nginx answered. */
    status?: number;
    /** Whether it was closed (or reset), by nginx or, past 5 s without a connection, by the test. */
    closed: boolean;
}

describe("a slow-body flood from one address (real nginx, started with a service's 1024 open files)", function () {
    this.timeout(180_000);
    const FLOOD = 3000;
    const LIMIT = 256; // clientConnectionLimit's default
    const PROBES = 20;
    const TRICKLE_MS = 3000; // under client_body_timeout (15 s) and nginx's lingering_timeout (5 s)
    let prefix: string;
    let app: http.Server;
    let publicPort: number;

    before(async () => {
        // The flood's sockets are this process's files: no limit is raised for the test.
        const own = openFilesLimit("self");
        if (own.soft < FLOOD + 1024) {
            throw new Error(
                `this test opens ${FLOOD} sockets, and ulimit -n is ${own.soft}: run it with ulimit -n 5000`,
            );
        }
        const ports = await freePorts(1);
        publicPort = ports.publicPort;
        app = http.createServer((req, res) => {
            req.resume();
            res.end("served\n");
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
            clientConnectionLimit: LIMIT,
        });
        prefix = createNginxPrefix("slow-body-flood");
        fs.writeFileSync(path.join(prefix, "conf", "nginx.conf"), text.replaceAll("/PREFIX", prefix));
        // With the soft open-files limit a systemd service gets by default (and many shells): the
        // config, not this machine's ulimit, must give the workers enough.
        execFileSync("sh", ["-c", 'ulimit -Sn 1024 && exec nginx "$@"', "sh", ...nginxArgs(prefix)]);
    });

    after(async () => {
        if (prefix) stopNginx(prefix);
        await new Promise((resolve) => app?.close(resolve));
        if (prefix) fs.rmSync(prefix, { recursive: true, force: true });
    });

    /** A POST announcing 5 MB (under clientMaxBodySize) of which one byte arrives. */
    function floodConnection(): Promise<FloodConnection> {
        return new Promise((resolve) => {
            const socket = net.connect({ port: publicPort, host: "127.0.0.1", localAddress: "127.0.0.2" });
            const connection: FloodConnection = { socket, connected: false, closed: false };
            // A full accept queue leaves connect() waiting for minutes of SYN retries.
            const giveUp = setTimeout(() => socket.destroy(), 5000);
            socket.once("connect", () => {
                clearTimeout(giveUp);
                connection.connected = true;
                socket.write("POST /upload HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5000000\r\n\r\nx");
                resolve(connection);
            });
            socket.on("data", (chunk: Buffer) => {
                connection.status ??= Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString("latin1"))?.[1] ?? 0);
            });
            socket.on("error", () => undefined); // a reset: counted as closed below
            socket.on("close", () => {
                clearTimeout(giveUp);
                connection.closed = true;
                resolve(connection); // no-op once connected
            });
        });
    }

    /** GET / from another client: the status, or the error, and how long it took. */
    function probe(): Promise<{ status: number | string; ms: number }> {
        const started = Date.now();
        return new Promise((resolve) => {
            const req = http.get(
                { host: "127.0.0.1", port: publicPort, path: "/", localAddress: "127.0.0.3", agent: false },
                (res) => {
                    res.resume();
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
                },
            );
            req.setTimeout(3000, () => req.destroy(new Error("no answer within 3 s")));
            req.on("error", (err) => resolve({ status: err.message, ms: Date.now() - started }));
        });
    }

    /** Whether `done` holds within `seconds`. */
    async function within(seconds: number, done: () => boolean): Promise<boolean> {
        const deadline = Date.now() + seconds * 1000;
        while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        return done();
    }

    it(`${FLOOD} slow POSTs from one address: ${LIMIT} held, the rest refused and closed; others served`, async () => {
        const logFrom = fs.statSync(path.join(prefix, "logs", "error.log")).size;
        const flood: FloodConnection[] = [];
        // One byte for every open flood connection every few seconds: each looks alive to nginx.
        const trickle = setInterval(() => {
            for (const { socket, closed } of flood) if (!closed && socket.writable) socket.write("x");
        }, TRICKLE_MS);
        const probes: { status: number | string; ms: number }[] = [];
        try {
            // In batches, another client asking beside each: it is served while the flood grows, too.
            const rampProbes: { status: number | string; ms: number }[] = [];
            for (let opened = 0; opened < FLOOD; opened += 100) {
                const [batch, answer] = await Promise.all([
                    Promise.all(Array.from({ length: 100 }, floodConnection)),
                    probe(),
                ]);
                flood.push(...batch);
                rampProbes.push(answer);
            }
            const held = () => flood.filter((c) => !c.closed && c.status === undefined);
            const refused = () => flood.filter((c) => c.status !== undefined);
            const state = () =>
                `${flood.filter((c) => !c.connected).length} not connected, ${held().length} held, ` +
                `${refused().length} answered, ${flood.filter((c) => c.closed).length} closed`;
            // Right away, while every connection of the flood is open (refused ones too, for a while).
            const opened = state();
            for (let i = 0; i < PROBES; i++) {
                probes.push(await probe());
                await new Promise((resolve) => setTimeout(resolve, 250));
            }
            for (const [when, answers] of [
                ["while the flood opened", rampProbes],
                ["with the flood open", probes],
            ] as const) {
                const failed = answers.filter((p) => p.status !== 200);
                const why = [...new Set(failed.map((p) => p.status))].join(", ");
                assert.equal(
                    failed.length,
                    0,
                    `${failed.length} of ${answers.length} ${when} failed: ${why} (${opened})`,
                );
            }
            assert.ok(
                flood.every((c) => c.connected),
                `the whole flood reached nginx (${opened})`,
            );
            await within(10, () => refused().length >= FLOOD - LIMIT);
            const settledAt = Date.now();
            const answers = [...new Set(refused().map((c) => c.status))];
            assert.deepEqual(answers, [429], "the flood's refused connections are answered 429");
            assert.equal(held().length, LIMIT, `the flood holds its limit of ${LIMIT} connections, no more`);
            // Refused connections are closed once nginx has read their body for lingering_time (30 s).
            const allClosed = await within(45, () => refused().every((c) => c.closed));
            assert.ok(allClosed, `nginx closes the refused connections within 45 s (${state()})`);
            const closedAfter = (Date.now() - settledAt) / 1000;
            assert.equal(held().length, LIMIT, "the held connections stay (their body keeps arriving)");
            assert.equal((await probe()).status, 200, "another client is still served");
            const worker = nginxWorkers(prefix)[0];
            assert.ok(worker, "an nginx worker runs");
            assert.ok(openFilesLimit(worker).soft >= 10240, "worker_rlimit_nofile raised the worker's 1024 files");
            const log = fs
                .readFileSync(path.join(prefix, "logs", "error.log"))
                .subarray(logFrom)
                .toString("utf8");
            const limited = log.match(/limiting connections by zone "bluegreen_client_connections"/g)?.length ?? 0;
            assert.equal(limited, FLOOD - LIMIT, "nginx logs each refused connection");
            assert.doesNotMatch(log, /worker_connections are not enough|Too many open files/);
            const slowest = Math.max(...probes.map((p) => p.ms), ...rampProbes.map((p) => p.ms));
            const served = rampProbes.length + PROBES + 1;
            recordOutcome({
                area: "security",
                fault:
                    `${FLOOD} POSTs from one address, each announcing 5 MB and sending a byte every ` +
                    `${TRICKLE_MS / 1000} s (clientConnectionLimit ${LIMIT}; nginx started with 1024 open files)`,
                expected: `${LIMIT} held, the rest 429 and closed; another client served every time within 3 s`,
                observed:
                    `${LIMIT} held, ${FLOOD - LIMIT} × 429, all closed by nginx ${closedAfter.toFixed(0)} s later; ` +
                    `${served} of ${served} requests of another client 200 (slowest ${slowest} ms)`,
                sent: FLOOD + served,
                lost: 0,
            });
        } finally {
            clearInterval(trickle);
            for (const { socket } of flood) socket.destroy();
        }
    });
});
