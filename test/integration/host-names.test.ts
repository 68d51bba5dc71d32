// An app that checks Host, as Django's ALLOWED_HOSTS or Rails' host authorization do, on the
// local target: the reference app with ALLOWED_HOSTS answers 421 to any other name, /health
// included. With its name in one config key (hostNames) it deploys, switches, rolls back and
// takes an idle deploy under load that sends that name, with no request lost; nginx refuses
// other names itself. Without the key, the deploy fails at once saying what to set.
import * as assert from "node:assert/strict";
import * as https from "node:https";
import { LocalStack, createLocalStack, getJson } from "../../scripts/lib/localStack";
import { certificateFor } from "../support/nginxCheck";
import { Measured, assertNothingLost, measureUnderLoad } from "../support/traffic";

type Color = "blue" | "green";
const HOSTS = [1, 2];
const NAME = "shop.example.test";

describe("local target, an app that answers 421 to any Host but its own (hostNames)", function () {
    let stack: LocalStack;
    let certificate: { cert: string; key: string };
    let httpsPort: number;
    const quiet = { onOutput: () => undefined };
    const asClient = { Host: NAME };

    async function liveColor(): Promise<string> {
        return String((await getJson(`${stack.publicUrl}/`, asClient)).headers["x-deploy-color"]);
    }

    async function pids(color: Color): Promise<number[]> {
        return Promise.all(HOSTS.map(async (i) => (await stack.appStatus(color, i)).pid));
    }

    /** Runs `action` under load sending the app's name, over HTTPS with `tls`; nothing may be lost. */
    async function underLoad(name: string, action: () => Promise<void>, tls = false): Promise<Measured> {
        const run = await measureUnderLoad(
            {
                url: tls ? `https://127.0.0.1:${httpsPort}` : stack.publicUrl,
                name: `${name}${tls ? " (HTTPS)" : ""}`,
                hostsPerPool: HOSTS.length,
                appStatus: (c, i) => stack.appStatus(c, i),
                headers: asClient,
                ca: certificate.cert,
            },
            action,
        );
        assertNothingLost(run, {
            area: "host names",
            fault:
                `${name}, the apps answering 421 to any other Host, load sending Host: ${NAME}` +
                (tls ? " over HTTPS (SNI)" : ""),
            expected: "0 failed requests (a changed config reloads nginx: idle connections it closes count apart)",
        });
        return run;
    }

    before(async () => {
        stack = await createLocalStack({
            hostNames: JSON.stringify([NAME]),
            appStartCommand: `env ALLOWED_HOSTS=${NAME} node server.js`,
        });
        // HTTPS with a certificate for the name, on a port no app host uses (a third blue host's).
        certificate = certificateFor(NAME);
        httpsPort = stack.hostPort("blue", HOSTS.length + 1);
        await stack.stack.setConfig("httpsPort", { value: String(httpsPort) });
        await stack.stack.setConfig("tlsCertificate", { value: certificate.cert, secret: true });
        await stack.stack.setConfig("tlsKey", { value: certificate.key, secret: true });
        const result = await stack.stack.up(quiet);
        assert.equal(result.summary.result, "succeeded");
    });

    after(async () => {
        await stack?.dispose();
    });

    it("serves the listed name; nginx itself refuses any other name, which no app sees", async () => {
        assert.equal(await liveColor(), "blue");
        const blueGets = async () =>
            (await Promise.all(HOSTS.map((i) => stack.appStatus("blue", i)))).reduce((n, s) => n + s.getRequests, 0);
        const before = await blueGets();
        for (const host of ["127.0.0.1", "evil.example.test", `www.${NAME}`]) {
            const refused = await getJson<string>(`${stack.publicUrl}/`, { Host: host });
            assert.equal(refused.status, 421, `Host ${host}`);
            assert.match(refused.body, /this server does not serve that host name/, "nginx's answer, not the app's");
        }
        assert.equal(await blueGets(), before, "no refused request reached an app");
        const internal = await getJson<{ status: string }>(`${stack.internalUrl}/green/health`);
        assert.equal(internal.body.status, "ready", "the idle pool on the internal listener, asked for the name");
    });

    it("switch blue → green over HTTPS, rollback, and an idle deploy: zero failed requests", async () => {
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        const toGreen = await underLoad(
            "switch blue→green",
            async () => {
                assert.equal((await stack.stack.up({ onOutput: (t) => (output += t) })).summary.result, "succeeded");
            },
            true,
        );
        assert.match(output, /verified GET \/health: 200 from green/);
        assert.match(output, /verified GET \/health over HTTPS: 200 from green/);
        assert.ok((toGreen.result.byColor.green ?? 0) > 0, "traffic moved to green");
        assert.equal(await liveColor(), "green");

        await stack.stack.setConfig("activeColor", { value: "blue" });
        await underLoad("rollback green→blue", async () => {
            assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
        });
        assert.equal(await liveColor(), "blue");

        const bluePids = await pids("blue");
        await stack.stack.setConfig("greenVersion", { value: "1.1.0" });
        const deploy = await underLoad(
            "deploy 1.1.0 to idle green",
            async () => {
                assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded");
            },
            true,
        );
        assert.deepEqual(deploy.result.byColor, { blue: deploy.result.ok }, "all traffic stayed on blue");
        assert.deepEqual(await pids("blue"), bluePids, "no live process restarted");
        for (const i of HOSTS) assert.equal((await stack.appStatus("green", i)).version, "1.1.0");
    });

    it("without hostNames the deploys fail at once on the 421, saying what to set; blue serves on", async () => {
        await stack.stack.removeConfig("hostNames");
        const bluePids = await pids("blue");
        let output = "";
        await assert.rejects(stack.stack.up({ onOutput: (t) => (output += t) }));
        const waited = [...output.matchAll(/\/health answered 421 after (\d+) ms, which waiting cannot change/g)];
        assert.ok(waited.length > 0, output);
        for (const [, ms] of waited) assert.ok(Number(ms) < 10_000, `did not wait out the 10 s budget (${ms} ms)`);
        assert.match(output, /this app does not serve host '127\.0\.0\.1'/);
        assert.match(output, /pulumi config set --path 'hostNames\[0\]' <the name>/);
        assert.equal(await liveColor(), "blue", "nginx was not touched");
        assert.deepEqual(await pids("blue"), bluePids, "the live pool's processes were left running");

        await stack.stack.setConfig("hostNames", { value: JSON.stringify([NAME]) });
        assert.equal((await stack.stack.up(quiet)).summary.result, "succeeded", "the name set again converges");
    });

    it("with the HTTPS redirect and HSTS on, a switch verifies over HTTPS; plain HTTP gets 308", async () => {
        await stack.stack.setConfig("httpsRedirect", { value: "true" });
        await stack.stack.setConfig("hstsMaxAgeSeconds", { value: "600" });
        await stack.stack.setConfig("activeColor", { value: "green" });
        let output = "";
        await underLoad(
            "switch blue→green with the HTTPS redirect on",
            async () => {
                assert.equal((await stack.stack.up({ onOutput: (t) => (output += t) })).summary.result, "succeeded");
            },
            true,
        );
        assert.match(output, /verified GET \/health over HTTP: 308 to HTTPS/);
        assert.match(output, /verified GET \/ over HTTPS: 200 from green/);
        const plain = await getJson<string>(`${stack.publicUrl}/`, asClient);
        assert.equal(plain.status, 308);
        assert.equal(plain.headers.location, `https://${NAME}:${httpsPort}/`);
        const secure = await getJsonOverTls(`https://127.0.0.1:${httpsPort}/`);
        assert.equal(secure.headers["strict-transport-security"], "max-age=600");
        assert.equal(secure.headers["x-deploy-color"], "green");
    });

    /** A GET over HTTPS for the name, trusting the stack's certificate (SNI and Host: the name). */
    function getJsonOverTls(url: string): Promise<{ status: number; headers: Record<string, unknown> }> {
        return new Promise((resolve, reject) => {
            https
                .get(url, { headers: asClient, ca: certificate.cert, agent: false }, (res) => {
                    res.resume();
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
                })
                .on("error", reject);
        });
    }
});
