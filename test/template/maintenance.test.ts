// Maintenance mode of a rendered config, served by a real nginx in front of two apps: the public
// listener answers 503 with Retry-After and the page (JSON to who asks), for every method and path;
// /health, the internal listener and the apps themselves carry on. In no-reload mode it
// goes on and off through the internal listener, with the control token, without a reload, and a
// request in flight finishes; in reload mode it is part of the config.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { renderNginxConfig } from "../../components/nginxConfig";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { createNginxPrefix, startNginx } from "../../scripts/lib/nginxPrefix";
import { call, control, loopbackConfig, nginxWorkers, serveRendered, stopServing } from "../support/nginxCheck";

type Color = "blue" | "green";
const TOKEN = "b".repeat(48);
const PAGE = "<!doctype html><title>Back soon</title><p>maintenance page from the test</p>\n";

/** A pool host answering /health ready, and /slow after `slowMs`; it counts what reached it. */
function startApp(color: Color, port: number, reached: string[], slowMs = 1500): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        if (req.url === "/health") {
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ status: "ready", version: "1.0.0" }));
            return;
        }
        reached.push(`${req.method} ${req.url}`);
        if (req.url === "/slow") {
            setTimeout(() => res.end(`${color} slow done\n`), slowMs);
            return;
        }
        res.end(`${color} saw ${req.method} ${req.url}\n`);
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** Asserts every public answer is the maintenance one: methods, paths, HTML and JSON. */
async function assertMaintenance(base: string, retryAfter: number): Promise<void> {
    for (const [method, target] of [
        ["GET", "/"],
        ["GET", "/orders/42"],
        ["POST", "/checkout"],
        ["HEAD", "/"],
    ]) {
        const html = await call(`${base}${target}`, method);
        assert.equal(html.status, 503, `${method} ${target}`);
        assert.equal(html.headers["retry-after"], String(retryAfter), `${method} ${target}: Retry-After`);
        assert.equal(html.headers["cache-control"], "no-store");
        assert.match(String(html.headers["content-type"]), /^text\/html/);
        if (method !== "HEAD") assert.equal(html.body, PAGE, `${method} ${target}: the page`);
    }
    const json = await call(`${base}/orders/42`, "POST", { Accept: "application/json" });
    assert.equal(json.status, 503);
    assert.equal(json.headers["retry-after"], String(retryAfter));
    assert.match(String(json.headers["content-type"]), /^application\/json/);
    assert.deepEqual(JSON.parse(json.body), { status: "maintenance", retryAfterSeconds: retryAfter });
}

for (const switchMode of ["no-reload", "reload"] as const) {
    describe(`maintenance mode (${switchMode} mode, real nginx)`, function () {
        this.timeout(30_000);
        let prefix: string | undefined;
        let apps: http.Server[] = [];
        const reached: string[] = [];
        let base: string;
        let internal: string;
        let ports: Awaited<ReturnType<typeof freePorts>>;

        before(async () => {
            ports = await freePorts(2);
            apps = [
                await startApp("blue", localAppPort(ports.base, "blue", 1), reached),
                await startApp("green", localAppPort(ports.base, "green", 1), reached),
            ];
            base = `http://127.0.0.1:${ports.publicPort}`;
            internal = `http://127.0.0.1:${ports.internalPort}`;
        });

        afterEach(() => {
            if (prefix) stopServing(prefix, []);
            prefix = undefined;
        });
        after(() => stopServing(undefined, apps));

        /** The config rendered with maintenance on and off (prefix /P). */
        function renderedBoth() {
            const input = { ...loopbackConfig(ports, switchMode), tls: undefined, prefix: "/P" };
            return {
                on: renderNginxConfig({ ...input, maintenance: { on: true, retryAfterSeconds: 120 } }),
                off: renderNginxConfig({ ...input, maintenance: { on: false, retryAfterSeconds: 120 } }),
            };
        }

        /** A real nginx with the config (maintenance as given) and the page nginx-switch.sh writes. */
        function serve(on: boolean): string {
            const input = { ...loopbackConfig(ports, switchMode), tls: undefined };
            prefix = serveRendered("maintenance", { ...input, maintenance: { on, retryAfterSeconds: 120 } }, TOKEN);
            fs.mkdirSync(path.join(prefix, "maintenance"));
            fs.writeFileSync(path.join(prefix, "maintenance", "index.html"), PAGE);
            return prefix;
        }

        if (switchMode === "no-reload") {
            it("goes on and off without a reload: the apps keep running, a request in flight finishes", async () => {
                const served = serve(false);
                assert.equal((await call(`${base}/`)).body, "blue saw GET /\n");
                const workers = nginxWorkers(served);
                assert.equal((await call(`${internal}/bluegreen/maintenance`)).body, "off");

                // A slow request in flight when maintenance goes on is answered by the app.
                const inFlight = call(`${base}/slow`);
                await new Promise((resolve) => setTimeout(resolve, 200));
                const wrongToken = await control(internal, "maintenance", "on", "c".repeat(48), "d".repeat(48));
                assert.equal(wrongToken.status, 403, "without the control token nothing changes");
                assert.equal((await call(`${base}/`)).status, 200);
                const next = "e".repeat(48);
                const on = await control(internal, "maintenance", "on", TOKEN, next);
                assert.deepEqual(on, { status: 200, body: "on" });
                const reachedBefore = reached.length;
                await assertMaintenance(base, 120);
                assert.equal(reached.length, reachedBefore, "no maintenance answer reached an app");
                const slow = await inFlight;
                assert.equal(slow.status, 200, "the request in flight finished");
                assert.equal(slow.body, "blue slow done\n");

                // /health, the internal listener and the apps carry on.
                const health = await call(`${base}/health`);
                assert.equal(health.status, 200);
                assert.deepEqual(JSON.parse(health.body), { status: "ready" });
                assert.equal((await call(`${internal}/green/anything`)).body, "green saw GET /anything\n");
                assert.equal((await call(`${internal}/bluegreen/live`)).body, "blue");

                // The token was used: the next change needs its successor. The body must be on or off.
                assert.equal((await control(internal, "maintenance", "off", TOKEN, "f".repeat(48))).status, 403);
                const bad = await control(internal, "maintenance", "maybe", next, "f".repeat(48));
                assert.equal(bad.status, 400);
                assert.match(bad.body, /on or off/);
                assert.deepEqual(await control(internal, "maintenance", "off", next, "f".repeat(48)), {
                    status: 200,
                    body: "off",
                });
                assert.equal((await call(`${base}/back`)).body, "blue saw GET /back\n");
                assert.deepEqual(nginxWorkers(served), workers, "the same workers: no reload");
            });

            it("starts in maintenance when conf/maintenance says on, as after a reboot", async () => {
                const { on, off } = renderedBoth();
                assert.equal(on.configId, off.configId, "in no-reload mode maintenance is not part of the config");
                // What nginx-switch.sh leaves on the host in maintenance; nginx reads conf/ when it starts.
                prefix = createNginxPrefix("maintenance-start");
                fs.writeFileSync(path.join(prefix, "conf", "nginx.conf"), off.text.replaceAll("/P/", `${prefix}/`));
                fs.writeFileSync(path.join(prefix, "conf", "live-color"), "green\n");
                fs.writeFileSync(path.join(prefix, "conf", "control-token"), `${TOKEN}\n`);
                fs.writeFileSync(path.join(prefix, "conf", "maintenance"), "on\n");
                fs.mkdirSync(path.join(prefix, "maintenance"));
                fs.writeFileSync(path.join(prefix, "maintenance", "index.html"), PAGE);
                startNginx(prefix);
                await assertMaintenance(base, 120);
                assert.equal((await call(`${internal}/bluegreen/maintenance`)).body, "on");
                assert.equal((await call(`${internal}/bluegreen/live`)).body, "green");
            });
        } else {
            it("in reload mode it is part of the config; /health and the internal listener serve", async () => {
                const { on, off } = renderedBoth();
                assert.notEqual(on.configId, off.configId, "in reload mode maintenance is a new config");
                serve(true);
                const reachedBefore = reached.length;
                await assertMaintenance(base, 120);
                assert.equal(reached.length, reachedBefore, "no maintenance answer reached an app");
                assert.equal((await call(`${base}/health`)).status, 200);
                assert.equal((await call(`${internal}/bluegreen/maintenance`)).body, "on");
                assert.equal((await call(`${internal}/blue/x`)).body, "blue saw GET /x\n");
            });
        }
    });
}
