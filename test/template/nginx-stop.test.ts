// nginx-stop.sh (a router deleted) on a real nginx holding a request that never ends: its old workers'
// worker_shutdown_timeout waits for drains a deleted router never sees, so the stop quits gracefully
// for an app's shutdown bound, then stops nginx at once.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SCRIPTS } from "../../components/scripts";
import { localAppPort } from "../../components/targets/local/config";
import { freePorts } from "../../scripts/lib/localStack";
import { runHostScript } from "../support/hostScript";
import { loopbackConfig, serveRendered, stopServing } from "../support/nginxCheck";

describe("nginx-stop.sh: a deleted router's nginx stops within an app's bound, whatever it holds", function () {
    this.timeout(60_000);
    let prefix: string | undefined;
    let app: http.Server | undefined;

    after(async () => stopServing(prefix, app ? [app] : []));

    it("quits gracefully, then stops at once a held request (worker_shutdown_timeout 300 s)", async () => {
        const ports = await freePorts(1);
        // Blue holds /hold forever (a long poll nobody answers); /health answers.
        let holding: () => void = () => undefined;
        const reachedApp = new Promise<void>((resolve) => (holding = resolve));
        app = http.createServer((req, res) => {
            if (req.url === "/hold") return holding();
            res.end("ok\n");
        });
        await new Promise<void>((resolve) =>
            app!.listen(localAppPort(ports.base, "blue", 1), "127.0.0.1", () => resolve()),
        );
        const { tls: _tls, ...config } = loopbackConfig(ports, "reload");
        prefix = serveRendered("nginx-stop", { ...config, workerShutdownTimeoutSeconds: 300 }, "t".repeat(48));
        const master = Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8"));
        const held = http.get(`http://127.0.0.1:${ports.publicPort}/hold`, { agent: false });
        const heldEnded = new Promise<string>((resolve) => {
            held.on("response", () => resolve("answered"));
            held.on("error", (error) => resolve(error.message));
        });
        await reachedApp; // nginx holds it now

        const started = Date.now();
        const result = runHostScript(
            SCRIPTS.nginxStop,
            { NGINX_PREFIX: prefix, SHUTDOWN_TIMEOUT_SECONDS: "1", SUPERVISOR: "process" },
            { timeoutMs: 30_000 },
        );
        const tookMs = Date.now() - started;
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /nginx still holds connections after 6s .*stopping it now/);
        assert.ok(!fs.existsSync(`/proc/${master}`), "nginx's master is gone");
        assert.ok(tookMs >= 6000 && tookMs < 12_000, `graceful for 6 s, then stopped at once: ${tookMs} ms`);
        const outcome = await Promise.race([heldEnded, sleep(5000, "still open")]);
        assert.notEqual(outcome, "still open", "the held request ended with nginx");
    });
});
