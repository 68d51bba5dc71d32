// What nginx serves on the ssh target's nginx host, asked before anything changes: one login with
// the system's ssh client, which runs curl against the internal listener there (loopback only).
// A colour set by hand, or an nginx that is not running, is then drift the switch corrects,
// gated, as on the local target. When the host cannot be asked (no ssh client here, the host
// unreachable), the program says so and goes by its records, as before.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type ObservedNginx, observedFrom } from "../../observe";

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

/** Each answer on its own line: "<body> <status>" (status 000 when nothing answered). */
function remoteCommand(internalUrl: string): string {
    return ["live", "config-id"]
        .map((p) => `curl -s --max-time 2 -w ' %{http_code}\\n' '${internalUrl}/bluegreen/${p}'`)
        .join("; ");
}

/** The body of an answer line if it was a 200. */
function answered(line: string | undefined): string | undefined {
    const match = /^(.*) (\d{3})$/.exec(line ?? "");
    return match && match[2] === "200" ? match[1].trim() : undefined;
}

export async function observeOverSsh(login: NginxLogin, internalUrl: string): Promise<ObservedNginx | undefined> {
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
            remoteCommand(internalUrl),
        ]; // prettier-ignore
        const { code, stdout, stderr } = await run("ssh", args, (login.timeoutSeconds + 10) * 1000);
        if (code !== 0) {
            void pulumi.log.warn(
                `could not ask nginx on ${login.address} what it serves (ssh exited ${code}: ${stderr.trim()}); ` +
                    "going by the stack's records",
            );
            return undefined;
        }
        const [live, configId] = stdout.split("\n");
        return observedFrom(answered(live), answered(configId));
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
