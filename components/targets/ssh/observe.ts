// What nginx serves on the ssh target's nginx host, and who answers each pool host's /health,
// asked before anything changes: one login with the system's ssh client, which runs curl against
// the internal listener there (loopback only) and each pool host, as the gate does.
// A colour set by hand, or an nginx that is not running, is then drift the switch corrects,
// gated, as on the local target. When the host cannot be asked (no ssh client here, the host
// unreachable), the program says so and goes by its records, as before.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
    type HostAnswer,
    type ObserveRequest,
    type ObservedNginx,
    canaryBody,
    observedFrom,
    okBody,
} from "../../observe";

export interface NginxLogin {
    readonly address: string;
    readonly port: number;
    readonly user: string;
    /** The private key's text. */
    readonly privateKey: string;
    /** One line of the host's public key file; any host key is accepted without it (as the plugin does). */
    readonly hostKey?: string;
    readonly timeoutSeconds: number;
}

/**
 * Each answer on its own line, "<body> <status>" (000 when nothing answered): nginx's live colour,
 * config id and canary, then each host's /health; last, the bakes' log as it is, one verdict per
 * line. Every value was validated (addresses, ports, names).
 */
function remoteCommand(request: ObserveRequest, unconfirmedFile: string): string {
    const host = request.hostHeader ? `-H 'Host: ${request.hostHeader}' ` : "";
    const ask = (url: string, headers = "") =>
        `echo "$(curl -s --connect-timeout 1 --max-time 2 ${headers}-w ' %{http_code}' '${url}' | tr '\\n' ' ')"`;
    return [
        ask(`${request.internalUrl}/bluegreen/live`),
        ask(`${request.internalUrl}/bluegreen/config-id`),
        ask(`${request.internalUrl}/bluegreen/canary`),
        // A switch of several routers' that went back unconfirmed (confirm-lib.sh): why, on one line.
        `echo "$(head -c 400 '${unconfirmedFile}' 2>/dev/null | tr '\\n' ' ')"`,
        ...request.hosts.map((h) => ask(`http://${h.address}:${h.port}/health`, host)),
        `curl -s --connect-timeout 1 --max-time 2 -f '${request.internalUrl}/bluegreen/bakes' || true`,
    ].join("; ");
}

/** An answer line as a status and a body. */
function answered(line: string | undefined): HostAnswer {
    const match = /^(.*) (\d{3})$/.exec(line ?? "");
    return match ? { status: Number(match[2]), body: match[1].trim() } : { status: 0, body: "" };
}

export async function observeOverSsh(
    login: NginxLogin,
    request: ObserveRequest,
    unconfirmedFile: string,
): Promise<ObservedNginx | undefined> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-observe-"));
    try {
        const key = path.join(dir, "key");
        fs.writeFileSync(key, login.privateKey.endsWith("\n") ? login.privateKey : `${login.privateKey}\n`, {
            mode: 0o600,
        });
        const knownHosts = path.join(dir, "known_hosts");
        const hostName = login.port === 22 ? login.address : `[${login.address}]:${login.port}`;
        if (login.hostKey) fs.writeFileSync(knownHosts, `${hostName} ${login.hostKey}\n`);
        const args = [
            "-i", key,
            "-p", String(login.port),
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none",
            "-o", `ConnectTimeout=${login.timeoutSeconds}`,
            "-o", `UserKnownHostsFile=${login.hostKey ? knownHosts : "/dev/null"}`,
            "-o", `StrictHostKeyChecking=${login.hostKey ? "yes" : "no"}`,
            "-o", "LogLevel=ERROR",
            `${login.user}@${login.address}`,
            remoteCommand(request, unconfirmedFile),
        ]; // prettier-ignore
        const { code, stdout, stderr } = await run("ssh", args, (login.timeoutSeconds + 10) * 1000);
        if (code !== 0) {
            void pulumi.log.warn(
                `could not ask nginx on ${login.address} what it serves (ssh exited ${code}: ${stderr.trim()}); ` +
                    "going by the stack's records",
            );
            return undefined;
        }
        const [live, configId, canary, wentBack, ...rest] = stdout.split("\n");
        const hosts = Object.fromEntries(request.hosts.map((h, i) => [h.name, answered(rest[i])]));
        const bakes = rest.slice(request.hosts.length).join("\n");
        const observed = observedFrom(
            okBody(answered(live)),
            okBody(answered(configId)),
            hosts,
            canaryBody(answered(canary)),
            bakes,
        );
        return wentBack?.trim() ? { ...observed, wentBack: wentBack.trim() } : observed;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function run(
    file: string,
    args: string[],
    timeoutMs: number,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", (err: NodeJS.ErrnoException) =>
            resolve({ code: err.code ?? "error", stdout, stderr: err.message }),
        );
        child.on("close", (code, signal) => resolve({ code: code ?? `signal ${signal}`, stdout, stderr }));
    });
}
