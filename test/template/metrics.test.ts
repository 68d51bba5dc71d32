// Metrics by colour of a rendered config (no-reload mode), served by a real nginx in front of two
// apps: after a known set of requests, /metrics on the internal listener counts each colour's
// requests by class to the request, the histogram agrees with them, failed upstream attempts and
// what nginx answered itself are told apart, nothing reloads, and Prometheus' own checker
// (promtool, from Debian's prometheus package) accepts the text.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { metricSamples } from "../support/metrics";
import { call, loopbackConfig, nginxWorkers, serveRendered, stopServing } from "../support/nginxCheck";

const TOKEN = "c".repeat(48);

/** A pool host: 200 to anything, 500 to /fail. */
function startApp(color: string, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        res.writeHead(req.url === "/fail" ? 500 : 200, { "Content-Type": "text/plain" });
        res.end(`${color}\n`);
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

describe("metrics by colour on the internal listener (no-reload mode, real nginx)", function () {
    this.timeout(30_000);
    let prefix: string | undefined;
    let apps: http.Server[] = [];

    after(() => stopServing(prefix, apps));

    it("count every public request by colour and class, to the request, without a reload", async () => {
        const ports = await freePorts(2);
        apps = [
            await startApp("blue", localAppPort(ports.base, "blue", 1)),
            await startApp("green", localAppPort(ports.base, "green", 1)),
        ];
        const config = { ...loopbackConfig(ports, "no-reload"), tls: undefined, privatePaths: ["/status"] };
        prefix = serveRendered("metrics", config, TOKEN);
        const workers = nginxWorkers(prefix);
        const base = `http://127.0.0.1:${ports.publicPort}`;
        const internal = `http://127.0.0.1:${ports.internalPort}`;

        for (let i = 0; i < 30; i++) assert.equal((await call(`${base}/orders/${i}`)).status, 200);
        for (let i = 0; i < 4; i++) assert.equal((await call(`${base}/fail`)).status, 500);
        for (let i = 0; i < 3; i++) assert.equal((await call(`${base}/status`)).status, 404); // nginx's own
        // Green live (as a switch makes it), then its host stopped: nginx answers 502.
        const live = await new Promise<number>((resolve, reject) => {
            const req = http.request(
                `${internal}/bluegreen/live`,
                { method: "POST", headers: { "X-Bluegreen-Token": TOKEN, "X-Bluegreen-Next-Token": "d".repeat(48) } },
                (res) => resolve(res.statusCode ?? 0),
            );
            req.on("error", reject);
            req.end("green");
        });
        assert.equal(live, 200);
        for (let i = 0; i < 20; i++) assert.equal((await call(`${base}/`)).status, 200);
        apps[1].closeAllConnections();
        await new Promise((resolve) => apps[1].close(resolve));
        assert.equal((await call(`${base}/`)).status, 502);
        // The internal listener's own requests are not public traffic.
        for (let i = 0; i < 5; i++) await call(`${internal}/blue/x`);

        const metrics = await call(`${internal}/metrics`);
        assert.equal(metrics.status, 200);
        assert.match(String(metrics.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
        const m = metricSamples(metrics.body);
        assert.equal(m.get('bluegreen_requests_total{color="blue",class="2xx"}'), 30);
        assert.equal(m.get('bluegreen_requests_total{color="blue",class="5xx"}'), 4);
        assert.equal(m.get('bluegreen_requests_total{color="green",class="2xx"}'), 20);
        assert.equal(m.get('bluegreen_requests_total{color="green",class="5xx"}'), 1, "the 502");
        assert.equal(m.get('bluegreen_requests_total{color="nginx",class="4xx"}'), 3, "nginx's own 404s");
        assert.equal(m.get('bluegreen_upstream_failures_total{color="green",status="502"}'), 1);
        assert.equal(m.get('bluegreen_upstream_failures_total{color="blue",status="502"}'), undefined);
        const blueHost = `127.0.0.1:${localAppPort(ports.base, "blue", 1)}`;
        assert.equal(m.get(`bluegreen_upstream_responses_total{color="blue",host="${blueHost}"}`), 34);
        for (const [color, count] of [
            ["blue", 34],
            ["green", 21],
        ] as const) {
            assert.equal(m.get(`bluegreen_request_duration_seconds_count{color="${color}"}`), count);
            assert.equal(m.get(`bluegreen_request_duration_seconds_bucket{color="${color}",le="+Inf"}`), count);
            const buckets = [...m.entries()]
                .filter(([name]) => name.startsWith(`bluegreen_request_duration_seconds_bucket{color="${color}",`))
                .map(([, value]) => value);
            assert.deepEqual(
                buckets,
                [...buckets].sort((a, b) => a - b),
                `${color}: cumulative buckets`,
            );
            assert.ok((m.get(`bluegreen_request_duration_seconds_sum{color="${color}"}`) ?? -1) >= 0);
        }
        assert.deepEqual(nginxWorkers(prefix), workers, "read without a reload");

        // Prometheus' own checker accepts it (the text format, the histogram, the names).
        const check = spawnSync("promtool", ["check", "metrics"], { input: metrics.body, encoding: "utf8" });
        assert.ok(!check.error, `promtool is needed (apt-get install prometheus): ${String(check.error)}`);
        assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    });

    it("a worker's counts not yet in shared memory are kept when a reload stops it", async () => {
        // Counted per worker, flushed every 0.1 s and when the worker stops: a reload right after
        // the requests loses none of them.
        const ports = await freePorts(2);
        const blue = await startApp("blue", localAppPort(ports.base, "blue", 1));
        const config = { ...loopbackConfig(ports, "no-reload"), tls: undefined };
        const served = serveRendered("metrics-reload-kept", config, TOKEN);
        try {
            const [worker] = nginxWorkers(served);
            for (let i = 0; i < 50; i++)
                assert.equal((await call(`http://127.0.0.1:${ports.publicPort}/`)).status, 200);
            // At once, well within the 0.1 s between flushes: the worker stops as a reload stops it.
            process.kill(worker, "SIGQUIT");
            for (let waited = 0; nginxWorkers(served).includes(worker); waited += 20) {
                assert.ok(waited < 10_000, "the worker stopped within 10 s");
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
            const m = metricSamples((await call(`http://127.0.0.1:${ports.internalPort}/metrics`)).body);
            assert.equal(m.get('bluegreen_requests_total{color="blue",class="2xx"}'), 50);
        } finally {
            await stopServing(served, [blue]);
        }
    });

    it("reload mode has no metrics and says why", async () => {
        const ports = await freePorts(2);
        const config = { ...loopbackConfig(ports, "reload"), tls: undefined };
        await stopServing(prefix, []);
        prefix = serveRendered("metrics-reload", config, TOKEN);
        const answer = await call(`http://127.0.0.1:${ports.internalPort}/metrics`);
        assert.equal(answer.status, 501);
        assert.match(answer.body, /need switchMode no-reload/);
    });
});
