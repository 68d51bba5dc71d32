// The ACME HTTP-01 challenge, served by a real nginx from the config the program renders with an
// ACME CA: the CA's request for a token lego wrote gets the token over plain HTTP, spared by the
// HTTPS redirect that every other plain request gets; a name that is not listed is refused; the
// config the first switch applies before there is a certificate has no HTTPS listener at all.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { acmeBootstrapInput, renderNginxConfig } from "../../components/nginxConfig";
import { freePorts } from "../../scripts/lib/localStack";
import { call, loopbackConfig, serveRendered, stopServing } from "../support/nginxCheck";

const NAME = "shop.example.test";
const TOKEN = "Vd0bXh8LsRzZ0a1Wq-token";

/** What lego writes for the CA: the token file under the webroot nginx serves. */
function writeToken(prefix: string): void {
    const dir = path.join(prefix, "acme-challenge", ".well-known", "acme-challenge");
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (let d = dir; d !== prefix; d = path.dirname(d)) fs.chmodSync(d, 0o755);
    fs.writeFileSync(path.join(dir, TOKEN), `${TOKEN}.thumbprint`, { mode: 0o644 });
}

function connects(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("error", () => resolve(false));
    });
}

describe("ACME challenge (real nginx, the config rendered with an ACME CA)", function () {
    this.timeout(30_000);
    let prefix: string | undefined;

    afterEach(async () => {
        await stopServing(prefix, []);
        prefix = undefined;
    });

    it("answers the token over plain HTTP for a listed name, redirect or not; other paths redirect", async () => {
        const ports = await freePorts(2);
        const base = loopbackConfig(ports, "reload");
        const config = {
            ...base,
            hostNames: [NAME],
            tls: { ...base.tls, redirect: true, acmeDirectoryUrl: "https://ca.example.test/dir" },
            acmeChallenge: true,
        };
        prefix = serveRendered("acme-challenge", config, "a".repeat(48));
        writeToken(prefix);
        const plain = `http://127.0.0.1:${ports.publicPort}`;
        const token = await call(`${plain}/.well-known/acme-challenge/${TOKEN}`, "GET", { Host: NAME });
        assert.deepEqual([token.status, token.body], [200, `${TOKEN}.thumbprint`], "the CA gets the token");
        const missing = await call(`${plain}/.well-known/acme-challenge/other`, "GET", { Host: NAME });
        assert.equal(missing.status, 404, "nothing but the webroot: no app answers there");
        const page = await call(`${plain}/`, "GET", { Host: NAME });
        assert.equal(page.status, 308, "every other plain request is redirected");
        assert.equal(page.headers.location, `https://${NAME}:${config.tls.port}/`);
        const unlisted = await call(`${plain}/.well-known/acme-challenge/${TOKEN}`, "GET", { Host: "other.test" });
        assert.equal(unlisted.status, 421, "a name that is not listed gets no token");
    });

    it("the config for before the first certificate: the challenge, and no HTTPS listener", async () => {
        const ports = await freePorts(2);
        const base = loopbackConfig(ports, "no-reload");
        const full = {
            ...base,
            hostNames: [NAME],
            tls: { ...base.tls, acmeDirectoryUrl: "https://ca.example.test/dir" },
            acmeChallenge: true,
        };
        const bootstrap = acmeBootstrapInput(full);
        assert.notEqual(
            renderNginxConfig({ ...bootstrap, prefix: "/p" }).configId,
            renderNginxConfig({ ...full, prefix: "/p" }).configId,
        );
        // Served without any certificate file: nginx -t and the start would fail with an ssl listener.
        prefix = serveRendered("acme-bootstrap", bootstrap, "a".repeat(48));
        assert.equal(fs.existsSync(path.join(prefix, "conf", "tls")), false);
        writeToken(prefix);
        const token = await call(`http://127.0.0.1:${ports.publicPort}/.well-known/acme-challenge/${TOKEN}`, "GET", {
            Host: NAME,
        });
        assert.equal(token.status, 200);
        assert.equal(await connects(full.tls.port), false, "no HTTPS listener yet");
        const page = await call(`http://127.0.0.1:${ports.publicPort}/health`, "GET", { Host: NAME });
        assert.notEqual(page.status, 308, "no redirect to an HTTPS that does not exist");
    });
});
