// Certificates from an ACME CA, on the local target, against a real one run by the test (Let's
// Encrypt's pebble, test/support/acme.ts): the first certificate obtained through nginx's own
// HTTP-01 answer, renewals (pebble's certificates live minutes, so each is due) by a switch and by
// acme/renew (what the host's timer runs), and the CA down during a renewal: the certificate in
// use keeps serving. Under load throughout, sending the app's name; nothing may be lost.
import { execFile } from "node:child_process";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { type TestCa, servedCertificate, startTestCa } from "../support/acme";
import { Measured, assertNothingLost, measureUnderLoad } from "../support/traffic";

const HOSTS = [1, 2];
const NAME = "shop.example.test";
/** Shorter than a day: with acmeRenewDays 1 every certificate is due for renewal at once. */
const VALIDITY_SECONDS = 900;

describe("local target, certificates from an ACME CA (pebble)", function () {
    let stack: LocalStack;
    let ca: TestCa;
    let httpsPort: number;
    let root: string;
    const quiet = { onOutput: () => undefined };
    const asClient = { Host: NAME };

    /** The certificate nginx shows for the name, checked against the CA's root. */
    function served(): Promise<{ serial: string; issuer: string }> {
        return servedCertificate("127.0.0.1", httpsPort, NAME, root);
    }

    async function liveColor(): Promise<string> {
        return String((await getJson(`${stack.publicUrl}/`, asClient)).headers["x-deploy-color"]);
    }

    /** Runs `action` under load sending the app's name (over HTTPS, trusting the CA's root, with `https`). */
    async function underLoad(name: string, action: () => Promise<void>, https: boolean): Promise<Measured> {
        const run = await measureUnderLoad(
            {
                url: https ? `https://127.0.0.1:${httpsPort}` : stack.publicUrl,
                name: `${name}${https ? " (HTTPS)" : ""}`,
                hostsPerPool: HOSTS.length,
                appStatus: (c, i) => stack.appStatus(c, i),
                headers: asClient,
                ca: root,
            },
            action,
        );
        assertNothingLost(run, {
            area: "certificates (ACME)",
            fault: `${name}, load sending Host: ${NAME}${https ? " over HTTPS, the chain checked" : ""}`,
            expected: "0 failed requests (a reload for a new certificate closes idle connections: counted apart)",
        });
        return run;
    }

    /** acme/renew on the nginx host, as its timer runs it. */
    function renew(): Promise<{ code: number; output: string }> {
        const script = path.join(stack.stateDir, "nginx", "acme", "renew");
        return new Promise((resolve) => {
            execFile(script, [], { timeout: 300_000 }, (error, stdout, stderr) => {
                const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
                resolve({ code, output: stdout + stderr });
            });
        });
    }

    before(async () => {
        stack = await createLocalStack({
            hostNames: JSON.stringify([NAME]),
            appStartCommand: `env ALLOWED_HOSTS=${NAME} node server.js`,
        });
        httpsPort = stack.hostPort("blue", HOSTS.length + 1);
        await stack.stack.setConfig("httpsPort", { value: String(httpsPort) });
        // Plain HTTP first: ACME is turned on for a stack that serves, as an operator would.
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        ca = await startTestCa({
            httpPort: Number(new URL(stack.publicUrl).port),
            validitySeconds: VALIDITY_SECONDS,
        });
    });

    after(async () => {
        await stack?.dispose();
        await ca?.dispose();
    });

    it("ACME turned on: a certificate through nginx's challenge answer, then HTTPS with it", async () => {
        await stack.stack.setConfig("acmeDirectoryUrl", { value: ca.directoryUrl });
        await stack.stack.setConfig("acmeEmail", { value: "ops@example.test" });
        await stack.stack.setConfig("acmeCaCertificate", { value: ca.listenerCertificate });
        await stack.stack.setConfig("acmeRenewDays", { value: "1" });
        let output = "";
        root = await ca.issuingRoot();
        await underLoad(
            "ACME turned on: plain HTTP first, the first certificate, then HTTPS",
            async () => {
                assert.equal((await stack.stack.up({ onOutput: (t) => (output += t) })).summary.result, "succeeded");
            },
            false,
        );
        assert.match(output, /No certificate yet: plain HTTP first/);
        assert.match(output, /Certificate obtained \(serial [0-9A-F]+\): applying the config with HTTPS/);
        assert.match(output, /verified GET \/health over HTTPS: 200 from blue/);
        const first = await served();
        assert.match(first.issuer, /Pebble/i, "issued by the CA, trusted through its root");
        const again = await getJson<string>(`${stack.publicUrl}/.well-known/acme-challenge/nothing-here`, asClient);
        assert.equal(again.status, 404, "the challenge path serves only what lego wrote");
    });

    it("a switch renews a certificate that is due (redirect on): new certificate, zero failed requests", async () => {
        const before = await served();
        await stack.stack.setConfig("httpsRedirect", { value: "true" });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        const run = await underLoad(
            "switch blue→green that renews the certificate",
            async () => {
                assert.equal((await stack.stack.up({ onOutput: (t) => (output += t) })).summary.result, "succeeded");
            },
            true,
        );
        assert.match(output, /within acmeRenewDays \(1\)/);
        assert.match(output, /Serving the new certificate for shop\.example\.test/);
        assert.ok((run.result.byColor.green ?? 0) > 0, "traffic moved to green");
        assert.equal((await getJson<string>(`${stack.publicUrl}/`, asClient)).status, 308, "plain HTTP redirects");
        const after = await served();
        assert.notEqual(after.serial, before.serial, "the renewed certificate is served");
    });

    it("acme/renew (the host's timer) renews under HTTPS load: the new certificate served, zero failed", async () => {
        const before = await served();
        let result = { code: -1, output: "" };
        await underLoad(
            "renewal by acme/renew",
            async () => {
                result = await renew();
            },
            true,
        );
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /verified GET \/health over HTTPS: 200 from green/);
        assert.notEqual((await served()).serial, before.serial);
        assert.equal(await liveColor(), "green");
    });

    it("the CA down: renewal fails saying so, the certificate in use serves on, a rollback happens", async () => {
        const before = await served();
        await ca.stop();
        let result = { code: -1, output: "" };
        await underLoad(
            "renewal with the CA unreachable",
            async () => {
                result = await renew();
            },
            true,
        );
        assert.equal(result.code, 1, result.output);
        assert.match(result.output, new RegExp(`the ACME CA ${ca.directoryUrl} gave no certificate`));
        assert.match(result.output, /The current certificate keeps serving/);
        assert.equal((await served()).serial, before.serial, "the certificate in use stayed");

        await stack.stack.setConfig("activeColor", { value: "blue" });
        let output = "";
        await underLoad(
            "rollback green→blue with the CA unreachable",
            async () => {
                await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
            },
            true,
        );
        assert.match(output, /blue is live \(verified\), but the certificate was not renewed/);
        assert.equal(await liveColor(), "blue", "the rollback happened");
        assert.equal((await served()).serial, before.serial, "the certificate in use stayed");

        await ca.start();
        root = await ca.issuingRoot(); // pebble signs with a new root after a restart
        // The host recorded the rollback's colour although the update failed: the timer's renewal
        // verifies against blue, and succeeds.
        const renewed = await renew();
        assert.equal(renewed.code, 0, renewed.output);
        assert.match(renewed.output, /verified GET \/health over HTTPS: 200 from blue/);
        assert.notEqual((await served()).serial, before.serial);
        const healed = await stack.stack.up(quiet);
        assert.equal(healed.summary.result, "succeeded", "the next update converges");
    });

    it("ACME turned off: the renewal goes with it; plain HTTP serves", async () => {
        for (const key of ["acmeDirectoryUrl", "acmeEmail", "acmeCaCertificate", "acmeRenewDays", "httpsRedirect"]) {
            await stack.stack.removeConfig(key);
        }
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        assert.equal(fs.existsSync(path.join(stack.stateDir, "nginx", "acme", "renew")), false, "acme/renew removed");
        assert.equal((await getJson<string>(`${stack.publicUrl}/health`, asClient)).status, 200);
        await assert.rejects(served(), "no HTTPS listener any more");
    });
});
