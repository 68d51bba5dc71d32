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
/** Routers switched as one: each is a switch to wait for, and a VRRP peer. */
export const MAX_ROUTERS = 5;

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

/** The routers' floating address (keepalived, VRRP): clients keep one address when a router dies. */
const virtualIp = z
    .object({
        address: z.string().regex(IPV4, { message: "address must be an IPv4 address" }),
        /** Of the routers' network: the address is added as address/prefixLength. */
        prefixLength: z.number().int().min(8).max(32).optional(),
        /** The routers' interface on that network (the same name on each). */
        interface: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: "interface must be an interface name such as eth0" })
            .optional(),
        /** VRRP's id of this group of routers: unique among the VRRP groups of the network. */
        virtualRouterId: z.number().int().min(1).max(255).optional(),
    })
    .strict();
export type VirtualIp = Required<z.infer<typeof virtualIp>>;
export const VIRTUAL_IP_DEFAULTS = { prefixLength: 24, interface: "eth0", virtualRouterId: 51 } as const;
const VIRTUAL_IP_HELP =
    'an object {"address": "10.0.0.100", "prefixLength": 24, "interface": "eth0", "virtualRouterId": 51} ' +
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
    /** The nginx machine (the gate and the switch run there), where there is one. */
    nginxSshHost: key(
        json(sshHost.nullable(), SSH_HOST_HELP),
        "pulumi config set --path 'nginxSshHost.address' 10.0.0.10",
        null,
    ),
    /**
     * Several nginx machines (routers), switched as one: instead of nginxSshHost. The first runs
     * the gate; clients reach them through one address (virtualIp) or a load balancer of their own.
     */
    nginxSshHosts: key(
        json(z.array(sshHost).max(MAX_ROUTERS), `a JSON list of up to ${MAX_ROUTERS} of ${SSH_HOST_HELP}`),
        "pulumi config set --path 'nginxSshHosts[1].address' 10.0.0.11",
        [],
    ),
    /** The routers' floating address (keepalived on each router): see docs/routers.md. */
    virtualIp: key(
        json(virtualIp.nullable(), VIRTUAL_IP_HELP),
        "pulumi config set --path 'virtualIp.address' 10.0.0.100",
        null,
    ),
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
    problems.push(...routerProblems(project, c));
    const seen = new Map<string, string>();
    const roles: [string, SshHost[]][] = [
        ["nginxSshHost", c.nginxSshHost ? [c.nginxSshHost] : []],
        ["nginxSshHosts", c.nginxSshHosts],
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

/** The routers: nginxSshHost, or the nginxSshHosts list. */
export function sshRouters(c: Pick<SshConfig, "nginxSshHost" | "nginxSshHosts">): SshHost[] {
    return c.nginxSshHost ? [c.nginxSshHost] : [...c.nginxSshHosts];
}

/**
 * The routers' names: "nginx" for one; for several, each after its address ("nginx-10.0.0.11"), so
 * that a router keeps its name (and its resources) when another is added or taken out of the list.
 */
export function sshRouterNames(c: Pick<SshConfig, "nginxSshHost" | "nginxSshHosts">): string[] {
    const routers = sshRouters(c);
    return routers.length === 1 ? ["nginx"] : routers.map((h) => `nginx-${h.address}`);
}

/** One of nginxSshHost and nginxSshHosts; routers that all run nginx as the same login. */
function routerProblems(project: string, c: SshConfig): string[] {
    if (c.nginxSshHost && c.nginxSshHosts.length > 0) {
        return [
            `${project}:nginxSshHost and ${project}:nginxSshHosts are both set: the routers are one or the ` +
                "other. Fix: pulumi config rm nginxSshHost (and list that machine in nginxSshHosts)",
        ];
    }
    if (!c.nginxSshHost && c.nginxSshHosts.length === 0) {
        return [
            `${project}:nginxSshHost is not set (nor nginxSshHosts): the ssh target needs its nginx machine. ` +
                "Fix: pulumi config set --path 'nginxSshHost.address' 10.0.0.10",
        ];
    }
    const logins = new Set(sshRouters(c).map((h) => h.user ?? c.sshUser));
    if (c.nginxSshHosts.length > 1 && c.acmeDirectoryUrl) {
        // Each router would ask for its own certificate, and the CA's check may reach another router.
        return [
            `${project}:acmeDirectoryUrl is set with ${c.nginxSshHosts.length} routers: each would obtain its own ` +
                "certificate, and the CA's HTTP check can reach a router that did not ask. Fix: give the " +
                "certificate (pulumi config set --secret tlsCertificate/tlsKey), or keep one router",
        ];
    }
    if (c.virtualIp) return virtualIpProblems(project, c, [...logins]);
    if (logins.size > 1) {
        return [
            `${project}:nginxSshHosts logs in as ${[...logins].join(" and ")}: every router serves the same ` +
                "config, whose nginx user follows the login. Fix: give every router the same user " +
                "(or none: sshUser)",
        ];
    }
    return [];
}

/**
 * keepalived needs the routers' IPv4 addresses (VRRP peers), root on each, a free address. One router
 * may hold it alone (while another is replaced): clients keep the address.
 */
function virtualIpProblems(project: string, c: SshConfig, logins: string[]): string[] {
    const problems: string[] = [];
    const routers = sshRouters(c);
    const vip = c.virtualIp?.address ?? "";
    const named = routers.filter((h) => !IPV4.test(h.address)).map((h) => h.address);
    if (named.length > 0) {
        problems.push(
            `${project}:nginxSshHosts names ${named.join(", ")}: with virtualIp, each router's VRRP peers are ` +
                "addressed by IPv4 address. Fix: give the routers' addresses, not names",
        );
    }
    if (logins.some((login) => login !== "root")) {
        problems.push(
            `${project}:virtualIp needs keepalived to run as root on the routers, which log in as ` +
                `${logins.join(", ")}. Fix: pulumi config set sshUser root (or "user": "root" in nginxSshHosts)`,
        );
    }
    const hosts = [...routers, ...c.blueSshHosts, ...c.greenSshHosts];
    if (hosts.some((h) => h.address === vip)) {
        problems.push(
            `${project}:virtualIp is ${vip}, which a machine of the stack already has. ` +
                "Fix: choose a free address on the routers' network (pulumi config set --path 'virtualIp.address' …)",
        );
    }
    return problems;
}

/** virtualIp with its defaults. */
export function virtualIpOf(c: Pick<SshConfig, "virtualIp">): VirtualIp | undefined {
    return c.virtualIp ? { ...VIRTUAL_IP_DEFAULTS, ...c.virtualIp } : undefined;
}
