// A real ACME CA for the tests: Let's Encrypt's pebble (built from Go modules by
// scripts/toolchain/pebble.sh), with its challenge test server answering DNS for every name with
// 127.0.0.1, so that the CA's HTTP-01 check reaches the stack's nginx on loopback. Both run as
// processes of the test, stopped by pid; the CA can be stopped and started again (a CA outage).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { ephemeralPort } from "../../scripts/lib/localStack";
import { REPO_ROOT } from "../../scripts/lib/pulumi";
import { certificateFor } from "./nginxCheck";

export interface TestCa {
    /** For acmeDirectoryUrl. */
    readonly directoryUrl: string;
    /** The CA's own HTTPS certificate, for acmeCaCertificate (lego trusts it to talk to the CA). */
    readonly listenerCertificate: string;
    /** The root that signs the certificates it issues (new at each start of pebble). */
    issuingRoot(): Promise<string>;
    /** Stops the CA (its DNS keeps answering): a CA that cannot be reached. */
    stop(): Promise<void>;
    start(): Promise<void>;
    dispose(): Promise<void>;
}

/** The certificate a TLS server shows for `servername`, checked against `ca` (the handshake fails otherwise). */
export function servedCertificate(
    host: string,
    port: number,
    servername: string,
    ca: string,
): Promise<{ serial: string; issuer: string }> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host, port, servername, ca }, () => {
            const certificate = socket.getPeerCertificate();
            socket.end();
            resolve({ serial: certificate.serialNumber, issuer: String(certificate.issuer.CN) });
        });
        socket.on("error", reject);
    });
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        // ACME servers refuse requests without a User-Agent.
        const req = https.get(url, { ca, timeout: 2000, headers: { "User-Agent": "bluegreen-tests" } }, (res) => {
            let body = "";
            res.on("data", (chunk: Buffer) => (body += chunk.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

/**
 * Starts pebble, whose HTTP-01 checks go to `httpPort` (the stack's publicPort) of the address
 * every name resolves to (`namesResolveTo`, 127.0.0.1 by default), issuing certificates valid for
 * `validitySeconds`. It listens on `listenAddress` (127.0.0.1 by default; the lab's bridge
 * address for an nginx host in a network namespace).
 */
export async function startTestCa(options: {
    httpPort: number;
    validitySeconds: number;
    listenAddress?: string;
    namesResolveTo?: string;
}): Promise<TestCa> {
    const listenAddress = options.listenAddress ?? "127.0.0.1";
    const tools = execFileSync("bash", [path.join(REPO_ROOT, "scripts", "toolchain", "pebble.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pebble-"));
    const [listen, management, dns, dnsManagement] = await Promise.all([1, 2, 3, 4].map(() => ephemeralPort()));
    // For the directory URL's address and the management interface's (loopback).
    const addresses = [...new Set([listenAddress, "127.0.0.1"])].map((address) => `IP:${address}`);
    const listener = certificateFor("localhost", [...addresses, "DNS:localhost"].join(","));
    fs.writeFileSync(path.join(dir, "cert.pem"), listener.cert);
    fs.writeFileSync(path.join(dir, "key.pem"), listener.key);
    fs.writeFileSync(
        path.join(dir, "pebble.json"),
        JSON.stringify({
            pebble: {
                listenAddress: `${listenAddress}:${listen}`,
                managementListenAddress: `127.0.0.1:${management}`,
                certificate: path.join(dir, "cert.pem"),
                privateKey: path.join(dir, "key.pem"),
                httpPort: options.httpPort,
                tlsPort: 5001,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
                profiles: { default: { description: "test", validityPeriod: options.validitySeconds } },
            },
        }),
    );
    const processes: Record<string, ChildProcess> = {};
    function launch(name: string, args: string[], env: Record<string, string> = {}): void {
        const log = fs.openSync(path.join(dir, `${name}.log`), "a");
        const child = spawn(path.join(tools, name), args, {
            cwd: dir,
            env: { ...process.env, ...env },
            stdio: ["ignore", log, log],
        });
        fs.closeSync(log);
        fs.writeFileSync(path.join(dir, `${name}.pid`), String(child.pid));
        processes[name] = child;
    }
    async function stopProcess(name: string): Promise<void> {
        const child = processes[name];
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
        fs.rmSync(path.join(dir, `${name}.pid`), { force: true });
    }
    async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
        const deadline = Date.now() + 15000;
        while (!(await check().catch(() => false))) {
            if (Date.now() > deadline) {
                const logs = fs.readdirSync(dir).filter((f) => f.endsWith(".log"));
                const tails = logs.map((f) => `${f}: ${fs.readFileSync(path.join(dir, f), "utf8").slice(-600)}`);
                throw new Error(`${what} did not start within 15 s\n${tails.join("\n")}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }
    const directoryUrl = `https://${listenAddress}:${listen}/dir`;
    async function start(): Promise<void> {
        // Real validation (no PEBBLE_VA_ALWAYS_VALID), without pebble's random waits and nonce rejections.
        launch("pebble", ["-config", path.join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dns}`], {
            PEBBLE_VA_NOSLEEP: "1",
            PEBBLE_WFE_NONCEREJECT: "0",
        });
        await waitUntil("pebble", async () => (await get(directoryUrl, listener.cert)).status === 200);
    }

    launch("pebble-challtestsrv", [
        "-defaultIPv4",
        options.namesResolveTo ?? "127.0.0.1",
        "-defaultIPv6",
        "",
        "-dnsserver",
        `127.0.0.1:${dns}`,
        "-management",
        `127.0.0.1:${dnsManagement}`,
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
        "-doh",
        "",
    ]);
    await start();
    return {
        directoryUrl,
        listenerCertificate: listener.cert,
        async issuingRoot() {
            const root = await get(`https://127.0.0.1:${management}/roots/0`, listener.cert);
            if (root.status !== 200) throw new Error(`pebble's /roots/0 answered ${root.status}`);
            return root.body;
        },
        stop: () => stopProcess("pebble"),
        start,
        async dispose() {
            await stopProcess("pebble");
            await stopProcess("pebble-challtestsrv");
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
