// A throwaway ssh-target stack over a netns lab (netns.ts): the real program, deploying
// through SSH to the lab's hosts, nginx in the lab's nginx namespace. Disposing destroys the
// stack; the lab's teardown then stops by pid whatever a failed destroy left.
import * as fs from "node:fs";
import type { Lab } from "./netns";
import { PROGRAM_FILES, REPO_ROOT, TestStack, createTestStack } from "../../scripts/lib/pulumi";
import { TEST_DRAIN_TOKEN, appHeadersFor, getJson } from "../../scripts/lib/localStack";
import type { AppStatus } from "../../scripts/lib/localStack";

export const SSH_APP_PORT = 3000;
export const SSH_PUBLIC_PORT = 8080;

export interface SshStack extends TestStack {
    readonly publicUrl: string;
    /** The lab host name (blue-1, ...) of host `index` of a pool. */
    appStatus(color: "blue" | "green", index: number): Promise<AppStatus>;
}

/** A lab machine as the stack's config names it: pinned by its host key. */
export function sshEntry(lab: Lab) {
    return (name: string) => ({ address: lab.hosts[name].address, hostKey: lab.hosts[name].hostKey });
}

/** The stack config for `lab`: hosts pinned by their host keys, the run's client key. */
export function sshConfig(lab: Lab, hostsPerPool: number): Record<string, string> {
    const entry = sshEntry(lab);
    const pool = (color: string) => Array.from({ length: hostsPerPool }, (_, i) => entry(`${color}-${i + 1}`));
    return {
        target: "ssh",
        activeColor: "blue",
        // A lab without a machine named nginx has several routers: the test names them itself.
        ...(lab.hosts.nginx ? { nginxSshHost: JSON.stringify(entry("nginx")) } : {}),
        blueSshHosts: JSON.stringify(pool("blue")),
        greenSshHosts: JSON.stringify(pool("green")),
        remoteDir: lab.remoteDir,
        appPort: String(SSH_APP_PORT),
        publicAddress: "0.0.0.0",
        publicPort: String(SSH_PUBLIC_PORT),
        internalPort: "8081",
        supervisor: "auto",
        gateTimeoutSeconds: "10",
        healthIntervalMs: "100",
        drainTimeoutSeconds: "10",
        sshDialAttempts: "2",
        sshDialTimeoutSeconds: "3",
    };
}

export async function createSshStack(
    lab: Lab,
    hostsPerPool: number,
    config: Record<string, string> = {},
): Promise<SshStack> {
    const base = await createTestStack({ sourceDir: REPO_ROOT, copy: [...PROGRAM_FILES] });
    fs.chmodSync(base.dir, 0o755);
    for (const [key, value] of Object.entries({ ...sshConfig(lab, hostsPerPool), ...config }))
        await base.stack.setConfig(key, { value });
    await base.stack.setConfig("drainToken", { value: TEST_DRAIN_TOKEN, secret: true });
    await base.stack.setConfig("sshPrivateKey", { value: lab.privateKey, secret: true });
    const appHeaders = appHeadersFor(config);
    return {
        ...base,
        publicUrl: `http://${(lab.hosts.nginx ?? Object.values(lab.hosts)[0]).address}:${SSH_PUBLIC_PORT}`,
        async appStatus(color, index) {
            const url = `http://${lab.hosts[`${color}-${index}`].address}:${SSH_APP_PORT}/status`;
            return (await getJson<AppStatus>(url, appHeaders)).body;
        },
        async dispose() {
            try {
                await base.stack.destroy({ onOutput: () => undefined });
            } finally {
                fs.rmSync(base.dir, { recursive: true, force: true });
            }
        },
    };
}
