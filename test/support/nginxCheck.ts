// `nginx -t` of a rendered config in a throwaway prefix (with the Lua module linked, and TLS
// files when given), as the switch script would run it on the nginx host.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { type NginxConfigInput, renderNginxConfig } from "../../components/nginxConfig";
import { localAppPort } from "../../components/targets/local/config";
import { createNginxPrefix, nginxArgs, startNginx, stopNginx } from "../../scripts/lib/nginxPrefix";

/**
 * Runs `nginx -t` on `text` with `renderedPrefix` replaced by a temp prefix. Returns "" when
 * nginx accepts it, else nginx's complaint.
 */
export function nginxTest(text: string, renderedPrefix: string, tls?: { cert: string; key: string }): string {
    const prefix = createNginxPrefix("nginx-t");
    if (tls) {
        fs.mkdirSync(path.join(prefix, "conf", "tls"));
        fs.writeFileSync(path.join(prefix, "conf", "tls", "certificate.pem"), tls.cert);
        fs.writeFileSync(path.join(prefix, "conf", "tls", "key.pem"), tls.key);
    }
    const conf = path.join(prefix, "conf", "nginx.conf");
    fs.writeFileSync(conf, text.replaceAll(renderedPrefix, prefix));
    try {
        const result = spawnSync("nginx", nginxArgs(prefix, "-t", "-q"), { encoding: "utf8" });
        return result.status === 0 ? "" : `${result.stdout}${result.stderr}`.trim();
    } finally {
        fs.rmSync(prefix, { recursive: true, force: true });
    }
}

let certificate: { cert: string; key: string } | undefined;

/** A self-signed certificate and key, made once per run with openssl. */
export function selfSignedCertificate(): { cert: string; key: string } {
    certificate ??= certificateFor("bluegreen.test");
    return certificate;
}

/** A self-signed certificate for `name` (its CN; its SANs `altNames`, the name alone by default), to trust as is. */
export function certificateFor(name: string, altNames = `DNS:${name}`): { cert: string; key: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"));
    try {
        const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
        const request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-days", "1"];
        const san = ["-addext", `subjectAltName=${altNames}`];
        execFileSync("openssl", [...request, ...san, "-keyout", key, "-out", cert], { stdio: "ignore" });
        return { cert: fs.readFileSync(cert, "utf8"), key: fs.readFileSync(key, "utf8") };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The worker pids of the nginx running on a prefix (a reload replaces them). */
export function nginxWorkers(prefix: string): number[] {
    const master = fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim();
    return fs
        .readdirSync("/proc")
        .filter((name) => /^\d+$/.test(name))
        .filter((pid) => {
            try {
                // /proc/PID/stat: "pid (comm) state ppid ...".
                return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1] === master;
            } catch {
                return false; // gone meanwhile
            }
        })
        .map(Number)
        .sort((a, b) => a - b);
}

/** A process's soft and hard limits on open files, from /proc/PID/limits. */
export function openFilesLimit(pid: number | "self"): { soft: number; hard: number } {
    const line = /^Max open files\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, "utf8"));
    if (!line) throw new Error(`no open-files limit in /proc/${pid}/limits`);
    return { soft: Number(line[1]), hard: Number(line[2]) };
}

export interface Answer {
    readonly status: number;
    readonly color: string | undefined;
    readonly body: string;
    readonly headers: http.IncomingHttpHeaders;
}

/**
 * One request to a test nginx, on a connection of its own. `servername`: the TLS SNI (default:
 * the Host header's name; "" sends none, as a client of an address does). A refused TLS handshake rejects.
 */
export function call(
    url: string,
    method = "GET",
    headers: Record<string, string> = {},
    servername?: string,
): Promise<Answer> {
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        // A self-signed certificate on loopback: what is tested is nginx's answer, not the chain.
        const options = {
            method,
            headers,
            agent: false,
            rejectUnauthorized: false,
            ...(servername === undefined ? {} : { servername }),
        };
        const req = client.request(url, options, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
                const color = res.headers["x-deploy-color"];
                resolve({
                    status: res.statusCode ?? 0,
                    color: typeof color === "string" ? color : undefined,
                    body: Buffer.concat(chunks).toString("utf8"),
                    headers: res.headers,
                });
            });
        });
        req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${method} ${url}`)));
        req.on("error", reject);
        req.end();
    });
}

/** POST to a control endpoint of the internal listener, as switch-lib.sh's post_control does. */
export function control(internal: string, name: string, value: string, token: string, next: string) {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(
            `${internal}/bluegreen/${name}`,
            { method: "POST", headers: { "X-Bluegreen-Token": token, "X-Bluegreen-Next-Token": next }, agent: false },
            (res) => {
                let body = "";
                res.on("data", (chunk: Buffer) => (body += chunk.toString()));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            },
        );
        req.on("error", reject);
        req.end(value);
    });
}

/**
 * A real nginx serving the config rendered from `input` (its prefix is replaced by a fresh one),
 * with what nginx-switch.sh writes before it starts nginx: the TLS pair (self-signed) when the
 * config has a TLS listener, the live colour and a control token (`token`). Returns the prefix.
 */
export function serveRendered(name: string, input: Omit<NginxConfigInput, "prefix">, token: string): string {
    const { text } = renderNginxConfig({ ...input, prefix: "/PREFIX" });
    const prefix = createNginxPrefix(name);
    const conf = path.join(prefix, "conf");
    fs.writeFileSync(path.join(conf, "nginx.conf"), text.replaceAll("/PREFIX", prefix));
    if (input.tls) {
        fs.mkdirSync(path.join(conf, "tls"));
        const certificate = selfSignedCertificate();
        fs.writeFileSync(path.join(conf, "tls", "certificate.pem"), certificate.cert);
        fs.writeFileSync(path.join(conf, "tls", "key.pem"), certificate.key);
    }
    fs.writeFileSync(path.join(conf, "live-color"), `${input.liveColor}\n`);
    fs.writeFileSync(path.join(conf, "control-token"), `${token}\n`);
    startNginx(prefix);
    return prefix;
}

/** Stops what `serveRendered` started and the test's apps, and removes the prefix. */
export async function stopServing(prefix: string | undefined, apps: readonly http.Server[]): Promise<void> {
    if (prefix) stopNginx(prefix);
    for (const app of apps) {
        app.closeAllConnections();
        await new Promise((resolve) => app.close(resolve));
    }
    if (prefix) fs.rmSync(prefix, { recursive: true, force: true });
}

/** Ports from freePorts(2): each pool's first host, and TLS on blue's second (which nobody starts). */
export interface LoopbackPorts {
    readonly base: number;
    readonly publicPort: number;
    readonly internalPort: number;
}

/** A config with one host per pool on loopback and HTTP, HTTPS and internal listeners, blue live. */
export function loopbackConfig(
    ports: LoopbackPorts,
    switchMode: NginxConfigInput["switchMode"],
): Omit<NginxConfigInput, "prefix"> & { readonly tls: { port: number; fingerprint: string } } {
    return {
        switchMode,
        liveColor: "blue",
        pools: {
            blue: [{ address: "127.0.0.1", port: localAppPort(ports.base, "blue", 1) }],
            green: [{ address: "127.0.0.1", port: localAppPort(ports.base, "green", 1) }],
        },
        publicAddress: "127.0.0.1",
        publicPort: ports.publicPort,
        internalAddress: "127.0.0.1",
        internalPort: ports.internalPort,
        workerShutdownTimeoutSeconds: 1,
        workerProcesses: 1,
        clientConnectionLimit: 256,
        tls: { port: localAppPort(ports.base, "blue", 2), fingerprint: "test" },
    };
}
