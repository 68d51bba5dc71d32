// The ssh target's keys: existing machines reached over SSH. REMOTE_KEYS are shared with the
// aws target, which reaches its instances the same way.
import { z } from "zod";
import {
    type CommonConfig,
    HOSTNAME,
    IPV4,
    type Parsed,
    PRIVATE_KEY,
    PRIVATE_KEY_HELP,
    integer,
    json,
    key,
    pattern,
    port,
    publicAddressKey,
    secretKey,
} from "../../configKeys";

export const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
export const HOST_KEY =
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]{32,1024}={0,2}( [A-Za-z0-9@._+-]{0,100})?$/;

const PORT_RANGE = { message: "port must be 1 to 65535" };

/** One machine reached over SSH. */
const sshHost = z
    .object({
        address: z.string().refine((v) => IPV4.test(v) || HOSTNAME.test(v), {
            message: "address must be an IPv4 address or a host name",
        }),
        port: z.number().int().min(1, PORT_RANGE).max(65535, PORT_RANGE).optional(),
        user: z
            .string()
            .regex(UNIX_USER, { message: "user must be a login name (lower-case letters, digits, _ -)" })
            .optional(),
        hostKey: z
            .string()
            .regex(HOST_KEY, {
                message:
                    "hostKey must be one line of the host's public key file, " +
                    "e.g. the text of /etc/ssh/ssh_host_ed25519_key.pub",
            })
            .optional(),
    })
    .strict();
export type SshHost = z.infer<typeof sshHost>;
const SSH_HOST_HELP =
    'an object {"address": "10.0.1.11", "port": 22, "user": "deploy", "hostKey": "ssh-ed25519 AAAA..."} ' +
    "(only address is required)";

export const SUPERVISORS = ["auto", "systemd", "process"] as const;
/** How apps are kept running on a host (templates/scripts/supervisor/). */
export type Supervisor = (typeof SUPERVISORS)[number];

/** Keys of every target whose hosts are reached over SSH (ssh, aws). */
export const REMOTE_KEYS = {
    /** Address of nginx's public listener: every address of the nginx host unless told otherwise. */
    publicAddress: publicAddressKey("0.0.0.0"),
    /** The private key (PEM or OpenSSH text) that logs in to every host. */
    sshPrivateKey: secretKey(
        pattern(PRIVATE_KEY, PRIVATE_KEY_HELP),
        "pulumi config set --secret sshPrivateKey < ~/.ssh/deploy_key",
    ),
    /** Connection attempts per command (refused logins and host keys too) before it fails. */
    sshDialAttempts: key(integer(1, 20), "pulumi config set sshDialAttempts 3", 3),
    /** Seconds one TCP connect may take (the SSH handshake is not bounded by it). */
    sshDialTimeoutSeconds: key(integer(1, 120), "pulumi config set sshDialTimeoutSeconds 10", 10),
    /** The port every app listens on, on its own host's address. */
    appPort: key(port(), "pulumi config set appPort 3000", 3000),
    /** The directory on every host for releases, logs, pid files and nginx's prefix. */
    remoteDir: key(
        pattern(
            /^\/(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]{1,200}$/,
            "an absolute directory path without '..' (letters, digits, . _ / -)",
        ),
        "pulumi config set remoteDir /srv/bluegreen",
        "/srv/bluegreen",
    ),
    /**
     * How apps are kept running: systemd (a unit per host), process (a detached process with a
     * pid file, for hosts without systemd), or auto (systemd where it runs).
     */
    supervisor: key(z.enum(SUPERVISORS), "pulumi config set supervisor auto   (or systemd, process)", "auto"),
} as const;

export type RemoteConfig = Parsed<typeof REMOTE_KEYS>;

const hostList = json(z.array(sshHost).max(50), `a JSON list of ${SSH_HOST_HELP}`);

export const SSH_KEYS = {
    ...REMOTE_KEYS,
    /** The blue pool's machines. */
    blueSshHosts: key(hostList, "pulumi config set --path 'blueSshHosts[0].address' 10.0.1.11", []),
    /** The green pool's machines. */
    greenSshHosts: key(hostList, "pulumi config set --path 'greenSshHosts[0].address' 10.0.2.11", []),
    /** The nginx machine (the gate and the switch run there). */
    nginxSshHost: key(json(sshHost, SSH_HOST_HELP), "pulumi config set --path 'nginxSshHost.address' 10.0.0.10"),
    /** The login used where a host names none. */
    sshUser: key(
        pattern(UNIX_USER, "a login name (lower-case letters, digits, _ -)"),
        "pulumi config set sshUser deploy",
        "root",
    ),
} as const;

export type SshConfig = CommonConfig & Parsed<typeof SSH_KEYS> & { readonly target: "ssh" };

/** The ssh target needs machines for both pools, each machine in one role only. */
export function sshConfigProblems(project: string, c: SshConfig): string[] {
    const problems: string[] = [];
    if (c.blueSshHosts.length === 0 && c.greenSshHosts.length === 0) {
        problems.push(
            `${project}:blueSshHosts and ${project}:greenSshHosts are both empty: the ssh target needs the pools' ` +
                "machines. Fix: pulumi config set --path 'blueSshHosts[0].address' 10.0.1.11",
        );
    }
    const seen = new Map<string, string>();
    const roles: [string, SshHost[]][] = [
        ["nginxSshHost", [c.nginxSshHost]],
        ["blueSshHosts", c.blueSshHosts],
        ["greenSshHosts", c.greenSshHosts],
    ];
    for (const [role, list] of roles) {
        for (const host of list) {
            const other = seen.get(host.address);
            if (other) {
                problems.push(
                    `${project}:${role} lists ${host.address}, which ${other} lists too: each machine has one role ` +
                        "(nginx, blue or green), so a deploy to the idle pool never touches what serves. " +
                        "Fix: remove it from one of them",
                );
            }
            seen.set(host.address, role);
        }
    }
    return problems;
}
