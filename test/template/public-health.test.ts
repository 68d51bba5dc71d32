// The public /health of a rendered config, served by a real nginx (over HTTP and HTTPS) in front
// of two apps that answer /health as the contract says, with pid, uptime and version: the public
// answer carries the status only, with the app's status code and the live colour; the details
// stay on the internal listener. In both switch modes.
import * as assert from "node:assert/strict";
import * as http from "node:http";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { call, loopbackConfig, nginxWorkers, serveRendered, stopServing } from "../support/nginxCheck";

type Color = "blue" | "green";

/** A pool host whose /health answers like the reference app's, ready or not as the test says. */
interface FakeApp {
    ready: boolean;
    readonly server: http.Server;
}

async function startApp(color: Color, port: number): Promise<FakeApp> {
    const app: FakeApp = {
        ready: true,
        server: http.createServer((req, res) => {
            if (req.url === "/health" && req.method === "GET") {
                res.writeHead(app.ready ? 200 : 503, { "Content-Type": "application/json" });
                const status = app.ready ? "ready" : "failing";
                res.end(JSON.stringify({ status, version: "1.4.2", color, pid: 4242, uptimeSeconds: 99, inFlight: 0 }));
                return;
            }
            res.end(`${color} saw ${req.method} ${req.url}\n`);
        }),
    };
    await new Promise<void>((resolve) => app.server.listen(port, "127.0.0.1", resolve));
    return app;
}

const TOKEN = "a".repeat(48);

for (const switchMode of ["reload", "no-reload"] as const) {
    describe(`the public /health (${switchMode} mode, real nginx, HTTP and HTTPS)`, function () {
        this.timeout(30_000);
        let prefix: string;
        let apps: Record<Color, FakeApp>;
        let urls: string[];
        let internal: string;

        before(async () => {
            const ports = await freePorts(2);
            apps = {
                blue: await startApp("blue", localAppPort(ports.base, "blue", 1)),
                green: await startApp("green", localAppPort(ports.base, "green", 1)),
            };
            const config = loopbackConfig(ports, switchMode);
            prefix = serveRendered("public-health", config, TOKEN);
            const tlsPort = config.tls.port;
            urls = [`http://127.0.0.1:${ports.publicPort}`, `https://127.0.0.1:${tlsPort}`];
            internal = `http://127.0.0.1:${ports.internalPort}`;
        });

        after(() =>
            stopServing(
                prefix,
                Object.values(apps ?? {}).map((app) => app.server),
            ),
        );

        /** Asserts the public answer of every listener: status only, the code and colour expected. */
        async function assertPublic(status: number, color: Color, state: string): Promise<number> {
            const expected = status === 200 ? { status: "ready" } : { status: "unavailable" };
            let sent = 0;
            for (const base of urls) {
                for (const target of ["/health", "/HEALTH", "/health?verbose=1"]) {
                    const answer = await call(`${base}${target}`);
                    sent++;
                    const what = `GET ${base}${target} (${state})`;
                    assert.equal(answer.status, status, what);
                    assert.equal(answer.color, color, `${what}: X-Deploy-Color`);
                    assert.doesNotMatch(answer.body, /pid|uptime|version|inFlight|4242|1\.4\.2/, what);
                    assert.deepEqual(JSON.parse(answer.body), expected, what);
                }
                const head = await call(`${base}/health`, "HEAD");
                sent++;
                assert.deepEqual([head.status, head.color, head.body], [status, color, ""], `HEAD ${base}/health`);
            }
            return sent;
        }

        /** The internal listener still gives the app's full answer. */
        async function assertInternal(color: Color, status: number): Promise<void> {
            const answer = await call(`${internal}/${color}/health`);
            assert.equal(answer.status, status, `${color}/health on the internal listener`);
            const body = JSON.parse(answer.body) as Record<string, unknown>;
            assert.equal(body.version, "1.4.2");
            assert.equal(body.pid, 4242);
            assert.equal(body.color, color);
        }

        it("says ready or unavailable with the app's status code and the live colour, nothing else", async () => {
            let sent = await assertPublic(200, "blue", "blue ready");
            await assertInternal("blue", 200);

            apps.blue.ready = false;
            sent += await assertPublic(503, "blue", "blue not ready");
            await assertInternal("blue", 503);
            apps.blue.ready = true;
            sent += await assertPublic(200, "blue", "blue ready again");

            // Only GET and HEAD: a POST is refused by nginx and never reaches an app.
            const post = await call(`${urls[0]}/health`, "POST");
            assert.deepEqual([post.status, post.color], [405, "blue"]);
            // A client's headers never reach the check (nor choose its pool).
            const chosen = await call(`${urls[0]}/health`, "GET", { "X-Deploy-Color": "green" });
            assert.deepEqual([chosen.status, chosen.color, chosen.body], [200, "blue", '{"status":"ready"}\n']);
            recordOutcome({
                area: "security",
                fault: `GET and HEAD /health through the public listener, HTTP and HTTPS (${switchMode} mode)`,
                expected: 'status only ({"status":"ready"} 200, {"status":"unavailable"} 503) with the live colour',
                observed:
                    `${sent} answers: the app's code and colour, no version, pid or uptime; ` +
                    "the internal listener still gives the full body; POST 405",
                sent: sent + 2,
                lost: 0,
            });
        });

        it("follows the app when it stops (503), and comes back with it", async () => {
            const port = (apps.blue.server.address() as { port: number }).port;
            apps.blue.server.closeAllConnections();
            await new Promise((resolve) => apps.blue.server.close(resolve));
            await assertPublic(503, "blue", "blue stopped");
            apps.blue = await startApp("blue", port);
            await assertPublic(200, "blue", "blue back");
        });

        if (switchMode === "no-reload") {
            it("follows a switch of the live colour at once, without a reload", async () => {
                const workersBefore = nginxWorkers(prefix);
                assert.ok(workersBefore.length > 0, "nginx workers found");
                const set = await new Promise<number>((resolve, reject) => {
                    const req = http.request(
                        `${internal}/bluegreen/live`,
                        {
                            method: "POST",
                            agent: false,
                            headers: { "X-Bluegreen-Token": TOKEN, "X-Bluegreen-Next-Token": "b".repeat(48) },
                        },
                        (res) => {
                            res.resume();
                            resolve(res.statusCode ?? 0);
                        },
                    );
                    req.on("error", reject);
                    req.end("green");
                });
                assert.equal(set, 200, "the live colour is set through the internal listener");
                apps.green.ready = false;
                await assertPublic(503, "green", "green live, not ready");
                apps.green.ready = true;
                await assertPublic(200, "green", "green live and ready");
                assert.deepEqual(nginxWorkers(prefix), workersBefore, "the same workers: no reload");
            });
        }
    });
}
