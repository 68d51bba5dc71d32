// hostNames, served by a real nginx (HTTP and HTTPS) in front of apps that check Host the way
// Django's ALLOWED_HOSTS or Rails' host authorization do (421 to any other name): a listed name
// reaches the live pool with its own Host; any other name, an address or no Host at all is
// refused by nginx and never reaches an app; over TLS an unlisted SNI gets no handshake; the
// internal listener's pool paths send the primary name. In both switch modes.
import * as assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { recordOutcome } from "../../scripts/lib/reliability";
import { call, loopbackConfig, serveRendered, stopServing } from "../support/nginxCheck";

type Color = "blue" | "green";
const NAMES = ["shop.example.test", "www.shop.example.test"];

/** A pool host that serves only NAMES, and remembers every Host it was asked for. */
interface HostCheckingApp {
    readonly hostsSeen: string[];
    readonly server: http.Server;
}

async function startApp(color: Color, port: number): Promise<HostCheckingApp> {
    const hostsSeen: string[] = [];
    const server = http.createServer((req, res) => {
        const host = req.headers.host ?? "";
        hostsSeen.push(host);
        if (!NAMES.includes(host.replace(/:\d+$/, ""))) {
            res.writeHead(421, { "Content-Type": "text/plain" });
            res.end(`the app does not serve ${host}\n`);
            return;
        }
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(req.url === "/health" ? { status: "ready", version: "1.0.0", color } : { color, host }));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return { hostsSeen, server };
}

/** An HTTP/1.0 request without a Host header, as old clients and scanners send: the raw answer. */
function requestWithoutHost(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write("GET / HTTP/1.0\r\n\r\n"));
        let answer = "";
        socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
        socket.on("end", () => resolve(answer));
        socket.on("error", reject);
        socket.setTimeout(5000, () => socket.destroy(new Error("no answer to an HTTP/1.0 request")));
    });
}

for (const switchMode of ["reload", "no-reload"] as const) {
    describe(`hostNames (${switchMode} mode, real nginx, apps that check Host)`, function () {
        this.timeout(30_000);
        let prefix: string;
        let apps: Record<Color, HostCheckingApp>;
        let publicPort: number;
        let tlsPort: number;
        let internal: string;

        before(async () => {
            const ports = await freePorts(2);
            apps = {
                blue: await startApp("blue", localAppPort(ports.base, "blue", 1)),
                green: await startApp("green", localAppPort(ports.base, "green", 1)),
            };
            const config = { ...loopbackConfig(ports, switchMode), hostNames: NAMES };
            prefix = serveRendered("host-names", config, "a".repeat(48));
            tlsPort = config.tls.port;
            publicPort = ports.publicPort;
            internal = `http://127.0.0.1:${ports.internalPort}`;
        });

        after(() =>
            stopServing(
                prefix,
                Object.values(apps ?? {}).map((app) => app.server),
            ),
        );

        const seen = () => apps.blue.hostsSeen.length + apps.green.hostsSeen.length;

        it("a listed name reaches the live pool with its own Host, over HTTP and HTTPS (SNI)", async () => {
            for (const name of NAMES) {
                for (const [url, sni] of [
                    [`http://127.0.0.1:${publicPort}/`, undefined],
                    [`https://127.0.0.1:${tlsPort}/`, name],
                ] as const) {
                    const answer = await call(url, "GET", { Host: name }, sni);
                    assert.equal(answer.status, 200, `${url} for ${name}: ${answer.body}`);
                    assert.equal(answer.color, "blue");
                    assert.deepEqual(JSON.parse(answer.body), { color: "blue", host: name });
                }
                // The public /health asks the live pool for the client's (listed) name too.
                const health = await call(`http://127.0.0.1:${publicPort}/health`, "GET", { Host: name });
                assert.deepEqual([health.status, health.body], [200, '{"status":"ready"}\n'], `/health for ${name}`);
            }
            assert.deepEqual(apps.green.hostsSeen, [], "the idle pool got nothing");
        });

        it("any other name, an address, or no Host: 421 from nginx, and no app sees the request", async () => {
            const before = seen();
            const refused: string[] = [];
            for (const host of ["evil.example.test", `127.0.0.1:${publicPort}`, "shop.example.test.evil.test"]) {
                for (const target of ["/", "/health", "/work?ms=1"]) {
                    const answer = await call(`http://127.0.0.1:${publicPort}${target}`, "GET", { Host: host });
                    assert.equal(answer.status, 421, `Host ${host} ${target}`);
                    assert.match(answer.body, /does not serve that host name/);
                    refused.push(`${host}${target}`);
                }
            }
            assert.match(await requestWithoutHost(publicPort), /^HTTP\/1\.1 421 /, "HTTP/1.0 without Host");
            assert.equal(seen(), before, "no app was asked");
            recordOutcome({
                area: "host names",
                fault: `unlisted names, an address and no Host asked of the public listener (${switchMode} mode)`,
                expected: "421 from nginx; no app sees them",
                observed: `${refused.length + 1} answered 421 by nginx; the apps saw none`,
                sent: refused.length + 1,
                lost: 0,
            });
        });

        it("over TLS, an unlisted SNI or none (an address) gets no handshake, so no certificate", async () => {
            const before = seen();
            for (const sni of ["evil.example.test", ""]) {
                await assert.rejects(
                    call(`https://127.0.0.1:${tlsPort}/`, "GET", { Host: NAMES[0] }, sni),
                    /alert|handshake|ECONNRESET|socket hang up/i,
                    `SNI ${sni || "none"}`,
                );
            }
            assert.equal(seen(), before, "no app was asked");
        });

        it("the internal listener's pool paths send the primary name, so the idle pool can be tried", async () => {
            for (const color of ["blue", "green"] as const) {
                const answer = await call(`${internal}/${color}/health`);
                assert.equal(answer.status, 200, `${color}: ${answer.body}`);
                assert.equal(apps[color].hostsSeen.at(-1), NAMES[0]);
            }
        });
    });
}

describe("HTTPS redirect and HSTS (real nginx, host names)", function () {
    this.timeout(30_000);
    let prefix: string;
    let apps: HostCheckingApp[] = [];
    let config: ReturnType<typeof loopbackConfig>;

    before(async () => {
        const ports = await freePorts(2);
        apps = [
            await startApp("blue", localAppPort(ports.base, "blue", 1)),
            await startApp("green", localAppPort(ports.base, "green", 1)),
        ];
        const base = loopbackConfig(ports, "no-reload");
        config = { ...base, tls: { ...base.tls, redirect: true, hstsMaxAgeSeconds: 600 } };
        prefix = serveRendered("https-redirect", { ...config, hostNames: NAMES }, "a".repeat(48));
    });

    after(() =>
        stopServing(
            prefix,
            apps.map((app) => app.server),
        ),
    );

    it("plain HTTP answers 308 to the same URL over HTTPS, reaching no app; HTTPS carries HSTS", async () => {
        const before = apps[0].hostsSeen.length;
        for (const [method, target] of [
            ["GET", "/"],
            ["GET", "/health"],
            ["POST", "/work?ms=1&x=%2F"],
        ]) {
            const plain = await call(`http://127.0.0.1:${config.publicPort}${target}`, method, { Host: NAMES[0] });
            assert.equal(plain.status, 308, `${method} ${target}`);
            assert.equal(plain.headers.location, `https://${NAMES[0]}:${config.tls.port}${target}`);
            assert.equal(plain.headers["strict-transport-security"], undefined, "no HSTS over plain HTTP");
        }
        assert.equal(apps[0].hostsSeen.length, before, "no app saw a plain HTTP request");
        for (const target of ["/", "/health"]) {
            const secure = await call(`https://127.0.0.1:${config.tls.port}${target}`, "GET", { Host: NAMES[0] });
            assert.equal(secure.status, 200, `${target}: ${secure.body}`);
            assert.equal(secure.headers["strict-transport-security"], "max-age=600", target);
        }
        // An unlisted name still gets nginx's 421, not a redirect to itself.
        const other = await call(`http://127.0.0.1:${config.publicPort}/`, "GET", { Host: "evil.example.test" });
        assert.equal(other.status, 421);
    });
});
