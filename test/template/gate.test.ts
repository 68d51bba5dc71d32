// The health gate script on its own (templates/scripts/gate-lib.sh), run by bash against real
// HTTP servers on loopback: what counts as ready, and what a failed gate says.
import { strict as assert } from "node:assert";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { SCRIPTS } from "../../components/scripts";
import { type ScriptRun, startHostScript } from "../support/hostScript";

function runGate(
    hosts: string,
    expectVersion: string,
    timeoutSeconds = 1,
    instances = "",
    hostHeader = "",
): Promise<ScriptRun> {
    return startHostScript(SCRIPTS.healthGate, {
        HOSTS: hosts,
        POOL_COLOR: "green",
        EXPECT_VERSION: expectVersion,
        GATE_TIMEOUT_SECONDS: String(timeoutSeconds),
        HEALTH_INTERVAL_MS: "50",
        CONFIG_ID: "test",
        INSTANCES: instances,
        HOST_HEADER: hostHeader,
    });
}

/** When a host that starts not ready becomes ready: after some requests, or some ms after the first request. */
type BecomesReady = { afterRequests: number } | { afterMs: number };

/** A /health endpoint answering with the given status and body, until it becomes ready (if ever). */
async function healthServer(
    status: number,
    body: object,
    becomes?: BecomesReady,
): Promise<{ address: string; close: () => Promise<void> }> {
    let requests = 0;
    let firstAt = 0;
    const server = http.createServer((_req, res) => {
        requests++;
        firstAt ||= Date.now();
        const ready =
            becomes !== undefined &&
            ("afterRequests" in becomes ? requests > becomes.afterRequests : Date.now() - firstAt >= becomes.afterMs);
        res.writeHead(ready ? 200 : status, { "content-type": "application/json" });
        res.end(JSON.stringify(ready ? { ...body, status: "ready" } : body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { address: `127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<string> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `127.0.0.1:${port}`;
}

describe("health gate script", function () {
    this.timeout(20_000);
    const closers: Array<() => Promise<void>> = [];
    afterEach(async () => {
        await Promise.all(closers.splice(0).map((close) => close()));
    });
    async function server(status: number, body: object, becomes?: BecomesReady): Promise<string> {
        const started = await healthServer(status, body, becomes);
        closers.push(started.close);
        return started.address;
    }

    it("passes when every host answers ready with the expected version, and names each host", async () => {
        const a = await server(200, { status: "ready", version: "v1.2.3", color: "green" });
        const b = await server(200, { status: "ready", version: "v1.2.3", color: "green" });
        const run = await runGate(`green-0=${a} green-1=${b}`, "v1.2.3");
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`green-0 \\(${a}\\) ready after \\d+ ms`));
        assert.match(run.stdout, new RegExp(`green-1 \\(${b}\\) ready after \\d+ ms`));
        assert.match(run.stdout, /Gate passed: all 2 green host\(s\) ready in \d+ ms/);
    });

    it("waits for a host that is still starting, polling rather than failing at once", async () => {
        // 503 "starting" for the first 3 checks: the gate must poll a fourth time (every 50 ms).
        const slow = await server(503, { status: "starting", version: "v1.2.3" }, { afterRequests: 3 });
        const run = await runGate(`green-0=${slow}`, "v1.2.3", 5);
        assert.equal(run.code, 0, run.stderr);
        const waited = Number(/ready after (\d+) ms/.exec(run.stdout)?.[1]);
        assert.ok(waited >= 150 && waited < 5000, `waited ${waited} ms: at least three 50 ms intervals`);
    });

    it("prints what each pending host answers every 2 s while it waits", async () => {
        const slow = await server(503, { status: "starting", version: "v1.2.3" }, { afterMs: 4500 });
        const run = await runGate(`green-0=${slow}`, "v1.2.3", 10);
        assert.equal(run.code, 0, run.stderr);
        const progress = run.stdout.split("\n").filter((line) => line.includes("not ready yet"));
        assert.equal(progress.length, 2, `progress at about 2 s and 4 s:\n${run.stdout}`);
        for (const line of progress)
            assert.match(
                line,
                /green-0 \(127\.0\.0\.1:\d+\) not ready yet after \d+ ms: \/health answered 503 \{"status":"starting"/,
            );
        assert.match(run.stdout, /green-0 .* ready after \d+ ms/);
    });

    it("refuses a version that only starts like the expected one", async () => {
        const host = await server(200, { status: "ready", version: "v1.2.3" });
        const run = await runGate(`green-0=${host}`, "v1.2");
        assert.equal(run.code, 1);
        assert.match(run.stdout, /green-0 .* NOT ready after 1s: last \/health answered 200 .*"version":"v1\.2\.3"/);
        assert.match(run.stderr, /gate failed: 1 of 1 green host\(s\) not ready/);
    });

    it("fails naming only the hosts that are not ready: a 503, a closed port, a 200 that is not ready", async () => {
        const ready = await server(200, { status: "ready", version: "v2" });
        const draining = await server(503, { status: "draining", version: "v2" });
        const notReady = await server(200, { status: "failing", version: "v2" });
        const closed = await closedPort();
        const run = await runGate(`g0=${ready} g1=${draining} g2=${closed} g3=${notReady}`, "v2");
        assert.equal(run.code, 1);
        assert.match(run.stdout, /g0 .* ready after/);
        assert.match(run.stdout, /g1 .* NOT ready after 1s: last \/health answered 503 .*draining/);
        assert.match(run.stdout, /g2 .* NOT ready after 1s: last \/health answered 000/);
        assert.match(run.stdout, /g3 .* NOT ready after 1s: last \/health answered 200 .*failing/);
        assert.doesNotMatch(run.stdout, /g0 .* NOT ready/);
        assert.match(run.stderr, /gate failed: 3 of 4 green host\(s\) not ready .*traffic was not switched/);
    });

    it("a host whose deploy saw an instance id must echo it: another process on its port fails at once", async () => {
        const ours = "0123456789abcdef0123456789abcdef";
        const own = await server(200, { status: "ready", version: "v2", instance: ours });
        const silent = await server(200, { status: "ready", version: "v2" });
        const passing = await runGate(`g0=${own} g1=${silent}`, "v2", 1, `g0=${ours}`);
        assert.equal(passing.code, 0, passing.stderr);
        // What took the port answers ready with the right version, but echoes another id, or none.
        for (const body of [{ instance: "ffff0000ffff0000ffff0000ffff0000" }, {}]) {
            const squatter = await server(200, { status: "ready", version: "v2", ...body });
            const started = Date.now();
            const run = await runGate(`g0=${own} g1=${squatter}`, "v2", 10, `g0=${ours} g1=${ours}`);
            assert.equal(run.code, 1, run.stdout);
            assert.ok(Date.now() - started < 5000, "waiting cannot change who holds the port: no 10 s wait");
            const echoed = "instance" in body ? body.instance : "none";
            assert.match(
                run.stderr,
                new RegExp(
                    `gate failed: g1 \\(${squatter}\\) is answered by another process: its /health echoes ` +
                        `instance '${echoed}', the deploy started '${ours}'.*Traffic was not switched`,
                ),
            );
        }
    });

    it("sends HOST_HEADER as Host; a final 4xx (an app's host check) fails at once, a 429 is waited out", async () => {
        const checker = http.createServer((req, res) => {
            const allowed = req.headers.host === "shop.example.test";
            res.writeHead(allowed ? 200 : 421, { "content-type": "application/json" });
            res.end(
                JSON.stringify(allowed ? { status: "ready", version: "v2" } : { error: `not ${req.headers.host}` }),
            );
        });
        await new Promise<void>((resolve) => checker.listen(0, "127.0.0.1", resolve));
        closers.push(() => new Promise((resolve) => checker.close(() => resolve())));
        const checking = `127.0.0.1:${(checker.address() as AddressInfo).port}`;
        const passing = await runGate(`g0=${checking}`, "v2", 10, "", "shop.example.test");
        assert.equal(passing.code, 0, passing.stderr);

        const started = Date.now();
        const refused = await runGate(`g0=${checking}`, "v2", 10, "", "127.0.0.1");
        assert.equal(refused.code, 1, refused.stdout);
        assert.ok(Date.now() - started < 5000, "a 421 cannot change by waiting: no 10 s wait");
        assert.match(
            refused.stderr,
            new RegExp(
                `gate failed: g0 \\(${checking}\\) answered /health with 421, which waiting cannot change ` +
                    '\\(\\{"error":"not 127\\.0\\.0\\.1"\\}\\)\\. Traffic was not switched\\. ' +
                    "The check sent Host: 127\\.0\\.0\\.1.*pulumi config set --path 'hostNames\\[0\\]'",
            ),
        );

        // 429 (too many requests) and 408 can change by waiting: the gate polls on until ready.
        for (const status of [429, 408]) {
            const busy = await server(status, { error: "busy", version: "v2" }, { afterRequests: 2 });
            const run = await runGate(`g0=${busy}`, "v2", 5);
            assert.equal(run.code, 0, `${status}: ${run.stderr}`);
        }
    });

    it("refuses a pool without hosts", async () => {
        const run = await runGate("", "v1");
        assert.equal(run.code, 1);
        assert.match(run.stderr, /the green pool has no hosts: refusing to send traffic to it/);
    });
});
