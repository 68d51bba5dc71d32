// The one place that reads stack config. Every key is validated here, before any
// resource is registered, so a bad value fails `pulumi preview` and changes nothing.
// Components receive the typed result and never call `new pulumi.Config()`.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export const TARGETS = ["local", "ssh", "aws"] as const;

/** nginx's HTTPS listener port, when a TLS certificate is configured. */
export const HTTPS_PORT = 443;

export const SWITCH_MODES = ["no-reload", "reload"] as const;
export type SwitchMode = (typeof SWITCH_MODES)[number];
export type Target = (typeof TARGETS)[number];

/** The colour that is not `color`: the idle pool when `color` is live. */
export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}

/**
 * One config key: how to parse its raw string, its default, and the line of help
 * that ends every error about it.
 */
interface KeySpec<T> {
    readonly schema: z.ZodType<T>;
    readonly default?: T;
    /** What to do instead, shown after the bad value. */
    readonly fix: string;
}

function key<T>(schema: z.ZodType<T>, fix: string, defaultValue?: T): KeySpec<T> {
    return { schema, fix, default: defaultValue };
}

// Patterns for values that land in nginx config or reach a shell: strict, so nothing a
// value contains can end a directive, start a new one or be run as a command.
const VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;
const RELATIVE_OR_ABSOLUTE_PATH = /^(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._\/-]{1,255}$/;
const COMMAND_LINE = /^[A-Za-z0-9 ._\/=:+-]{1,200}$/;
/** One IPv4 octet, 0 to 255, no leading zeros. */
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const URL_PATH = /^\/[A-Za-z0-9._~\/-]{0,200}$/;
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+\/]{32,1024}={0,2}( [A-Za-z0-9@._+-]{0,100})?$/;
const CIDR = new RegExp(`^${OCTET}(\\.${OCTET}){3}/(3[0-2]|[12]?\\d)$`);
const CIDR_16 = new RegExp(`^${OCTET}\\.${OCTET}\\.0\\.0/16$`);
const AWS_ID = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{8,17}$`);
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/;
const AMI_NAME_FILTER = /^[A-Za-z0-9._*?\/-]{1,128}$/;
const PEM_CERTIFICATE = /^(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+\/=\r\n]+-----END CERTIFICATE-----\s*)+$/;
const PRIVATE_KEY = /^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n[A-Za-z0-9+\/=:,\r\n -]+\r?\n-----END ([A-Z]+ )?PRIVATE KEY-----\s*$/;

function pattern(re: RegExp, what: string) {
    return z.string().regex(re, { message: `must be ${what}` });
}

/** A whole number in [min, max], given as config text. */
function integer(min: number, max: number) {
    return z
        .string()
        .regex(/^\d+$/, { message: `must be a whole number from ${min} to ${max}` })
        .transform(Number)
        .pipe(z.number().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));
}

const port = () => integer(1024, 65535);

/** JSON text (as Pulumi stores structured config) parsed, then checked against `schema`. */
function json<T>(schema: z.ZodType<T>, what: string) {
    return z
        .string()
        .transform((text, ctx) => {
            try {
                return JSON.parse(text) as unknown;
            } catch {
                ctx.addIssue({ code: "custom", message: `must be ${what}` });
                return z.NEVER;
            }
        })
        .pipe(schema);
}

/** A JSON list (as `pulumi config set --path 'key[0]' …` stores it) of 1 to 20 items matching `item`. */
function jsonList<T>(item: z.ZodType<T>, what: string) {
    const description = `a JSON list of ${what}`;
    return json(z.array(item, { message: `must be ${description}` }).min(1, { message: "must list at least one" }).max(20), description);
}

/** One machine reached over SSH (target ssh). */
const sshHost = z
    .object({
        address: z.string().refine((v) => IPV4.test(v) || HOSTNAME.test(v), { message: "address must be an IPv4 address or a host name" }),
        port: z.number().int().min(1, { message: "port must be 1 to 65535" }).max(65535, { message: "port must be 1 to 65535" }).optional(),
        user: z.string().regex(UNIX_USER, { message: "user must be a login name (lower-case letters, digits, _ -)" }).optional(),
        hostKey: z.string().regex(HOST_KEY, { message: "hostKey must be one line of the host's public key file, e.g. the text of /etc/ssh/ssh_host_ed25519_key.pub" }).optional(),
    })
    .strict();
export type SshHost = z.infer<typeof sshHost>;
const SSH_HOST_HELP = 'an object {"address": "10.0.1.11", "port": 22, "user": "deploy", "hostKey": "ssh-ed25519 AAAA..."} (only address is required)';

const ARTIFACT_HELP = "a directory or tarball path without '..' (letters, digits, . _ / -)";

/** Every key the program reads. Nothing outside this table reads config. */
export const CONFIG_KEYS = {
    /** Which pool serves traffic. Required: a switch is always an explicit choice. */
    activeColor: key(z.enum(COLORS), "pulumi config set activeColor blue   (or green)"),
    /** Where the hosts come from. Default: local. */
    target: key(z.enum(TARGETS), "pulumi config set target local   (or ssh, aws)", "local"),
    /** How nginx changes pools: no-reload (Lua shared memory, closes no connection) or reload. Default: no-reload. */
    switchMode: key(z.enum(SWITCH_MODES), "pulumi config set switchMode no-reload   (or reload: works on any nginx, but a reload closes idle keep-alive connections)", "no-reload"),
    /** Release version deployed to the blue pool. Default: 1.0.0. */
    blueVersion: key(pattern(VERSION, "a version such as 1.4.2 (letters, digits, . _ + -)"), "pulumi config set blueVersion 1.0.1", "1.0.0"),
    /** Release version deployed to the green pool. Default: 1.0.0. */
    greenVersion: key(pattern(VERSION, "a version such as 1.4.2 (letters, digits, . _ + -)"), "pulumi config set greenVersion 1.0.1", "1.0.0"),
    /** The blue release: a directory, or a tarball of one (.tar.gz, .tgz, .tar), of any app that follows the health contract. Default: bin/app, the reference app. */
    blueArtifact: key(pattern(RELATIVE_OR_ABSOLUTE_PATH, ARTIFACT_HELP), "pulumi config set blueArtifact path/to/app   (or path/to/app-1.4.2.tgz)", "bin/app"),
    /** The green release: a directory or a tarball. Default: bin/app, the reference app. */
    greenArtifact: key(pattern(RELATIVE_OR_ABSOLUTE_PATH, ARTIFACT_HELP), "pulumi config set greenArtifact path/to/app   (or path/to/app-1.4.2.tgz)", "bin/app"),
    /** How a release starts, run in its directory with PORT and the rest in the environment. Default: node server.js. */
    appStartCommand: key(pattern(COMMAND_LINE, "a plain command line (letters, digits, space, . _ / = : + -)"), "pulumi config set appStartCommand 'node server.js'", "node server.js"),
    /** Hosts in the blue pool. Default: 2. */
    blueHosts: key(integer(0, 50), "pulumi config set blueHosts 2", 2),
    /** Hosts in the green pool. Default: 2. */
    greenHosts: key(integer(0, 50), "pulumi config set greenHosts 2", 2),
    /** Address of nginx's public listener. Default: 127.0.0.1 on the local target, 0.0.0.0 on the others. */
    publicAddress: key(pattern(IPV4, "an IPv4 address such as 127.0.0.1"), "pulumi config set publicAddress 127.0.0.1", "127.0.0.1"),
    /** Port of nginx's public listener (below 1024 needs root: the ssh and aws targets). Default: 8080. */
    publicPort: key(integer(1, 65535), "pulumi config set publicPort 8080", 8080),
    /** Port of nginx's internal listener (loopback only: each pool by path, status). Default: 8081. */
    internalPort: key(port(), "pulumi config set internalPort 8081", 8081),
    /** Local target: blue host i listens on appBasePort+i, green host i on appBasePort+100+i. Default: 9100. */
    appBasePort: key(integer(1024, 65300), "pulumi config set appBasePort 9100", 9100),
    /** Local target: where nginx's prefix, app processes, pid files and logs live. Default: .state/local. */
    stateDir: key(pattern(RELATIVE_OR_ABSOLUTE_PATH, "a directory path without '..' (letters, digits, . _ / -)"), "pulumi config set stateDir .state/local", ".state/local"),
    /** Health gate: how long every host of the pool going live may take to be ready. Default: 30. */
    gateTimeoutSeconds: key(integer(1, 600), "pulumi config set gateTimeoutSeconds 30", 30),
    /** Health gate and deploys: how often /health is polled. Default: 200. */
    healthIntervalMs: key(integer(50, 5000), "pulumi config set healthIntervalMs 200", 200),
    /** How long a draining app may take to finish requests in flight. Default: 30. */
    drainTimeoutSeconds: key(integer(1, 600), "pulumi config set drainTimeoutSeconds 30", 30),
    /** Paths requested through the public listener after a switch; each must answer 2xx from the new colour. Default: ["/"]. */
    smokePaths: key(jsonList(pattern(URL_PATH, "a URL path such as /health (letters, digits, . _ ~ / -)"), "URL paths"), "pulumi config set --path 'smokePaths[0]' /", ["/"]),
    /** App paths the public listener answers 404 for (status pages). Default: ["/status"]. */
    privatePaths: key(jsonList(pattern(URL_PATH, "a URL path such as /status (letters, digits, . _ ~ / -)"), "URL paths"), "pulumi config set --path 'privatePaths[0]' /status", ["/status"]),
    /** ssh target: the blue pool's machines. */
    blueSshHosts: key(json(z.array(sshHost).max(50), `a JSON list of ${SSH_HOST_HELP}`), "pulumi config set --path 'blueSshHosts[0].address' 10.0.1.11", []),
    /** ssh target: the green pool's machines. */
    greenSshHosts: key(json(z.array(sshHost).max(50), `a JSON list of ${SSH_HOST_HELP}`), "pulumi config set --path 'greenSshHosts[0].address' 10.0.2.11", []),
    /** ssh target: the nginx machine (the gate and the switch run there). */
    nginxSshHost: key(json(sshHost, SSH_HOST_HELP), "pulumi config set --path 'nginxSshHost.address' 10.0.0.10"),
    /** ssh target: the login used where a host names none. Default: root. */
    sshUser: key(pattern(UNIX_USER, "a login name (lower-case letters, digits, _ -)"), "pulumi config set sshUser deploy", "root"),
    /** ssh target: the private key (PEM or OpenSSH text) that logs in to every host. Set it as a secret. */
    sshPrivateKey: key(pattern(PRIVATE_KEY, "the text of a private key file (-----BEGIN ... PRIVATE KEY-----), unencrypted"), "pulumi config set --secret sshPrivateKey < ~/.ssh/deploy_key"),
    /** ssh target: connection attempts per command (refused logins and host keys too) before it fails. Default: 3. */
    sshDialAttempts: key(integer(1, 20), "pulumi config set sshDialAttempts 3", 3),
    /** ssh target: seconds one TCP connect may take (the SSH handshake is not bounded by it). Default: 10. */
    sshDialTimeoutSeconds: key(integer(1, 120), "pulumi config set sshDialTimeoutSeconds 10", 10),
    /** ssh target: the port every app listens on, on its own host's address. Default: 3000. */
    appPort: key(port(), "pulumi config set appPort 3000", 3000),
    /** ssh target: the directory on every host for releases, logs, pid files and nginx's prefix. Default: /srv/bluegreen. */
    remoteDir: key(pattern(/^\/(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._\/-]{1,200}$/, "an absolute directory path without '..' (letters, digits, . _ / -)"), "pulumi config set remoteDir /srv/bluegreen", "/srv/bluegreen"),
    /** ssh target: how apps are kept running: systemd (a unit per host), process (a detached process with a pid file, for hosts without systemd), or auto (systemd where it runs). Default: auto. */
    supervisor: key(z.enum(["auto", "systemd", "process"]), "pulumi config set supervisor auto   (or systemd, process)", "auto"),
    /** aws target: the public half of the key pair (one line of a .pub file); its private half is sshPrivateKey. */
    awsPublicKey: key(pattern(HOST_KEY, "one line of a public key file (ssh-ed25519 AAAA... comment)"), "pulumi config set awsPublicKey \"$(cat ~/.ssh/deploy_key.pub)\""),
    /** aws target: the network allowed to SSH to the nginx host (the pools only take SSH from it). */
    adminCidr: key(pattern(CIDR, "an IPv4 CIDR such as 203.0.113.0/24"), "pulumi config set adminCidr 203.0.113.0/24"),
    /** aws target: networks allowed to reach nginx's HTTP(S) listener. Default: ["0.0.0.0/0"]. */
    publicCidrs: key(jsonList(pattern(CIDR, "an IPv4 CIDR such as 0.0.0.0/0"), "IPv4 CIDRs"), "pulumi config set --path 'publicCidrs[0]' 0.0.0.0/0", ["0.0.0.0/0"]),
    /** aws target: the VPC's address range when the program creates it (a /16). Default: 10.20.0.0/16. */
    awsVpcCidr: key(pattern(CIDR_16, "a /16 such as 10.20.0.0/16"), "pulumi config set awsVpcCidr 10.20.0.0/16", "10.20.0.0/16"),
    /** aws target: use this existing VPC instead of creating one (then list its subnets too). */
    awsVpcId: key(pattern(AWS_ID("vpc"), "a VPC id such as vpc-0123456789abcdef0"), "pulumi config set awsVpcId vpc-0123456789abcdef0", ""),
    /** aws target, existing VPC: two public subnets (nginx), in two zones. */
    awsPublicSubnetIds: key(jsonList(pattern(AWS_ID("subnet"), "a subnet id such as subnet-0123456789abcdef0"), "subnet ids"), "pulumi config set --path 'awsPublicSubnetIds[0]' subnet-0123456789abcdef0", []),
    /** aws target, existing VPC: two private subnets (the pools), in two zones, each a /24 or larger. */
    awsPrivateSubnetIds: key(jsonList(pattern(AWS_ID("subnet"), "a subnet id such as subnet-0123456789abcdef0"), "subnet ids"), "pulumi config set --path 'awsPrivateSubnetIds[0]' subnet-0123456789abcdef0", []),
    /** aws target: the two availability zones (default: the region's first two). */
    awsAvailabilityZones: key(jsonList(pattern(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "a zone name such as eu-west-1a"), "zone names"), "pulumi config set --path 'awsAvailabilityZones[0]' eu-west-1a", []),
    /** aws target: AMI name filter (the newest match is used). Default: debian-12-amd64-*. */
    awsAmiNameFilter: key(pattern(AMI_NAME_FILTER, "an AMI name pattern such as debian-12-amd64-*"), "pulumi config set awsAmiNameFilter 'debian-12-amd64-*'", "debian-12-amd64-*"),
    /** aws target: the AMI owner account. Default: 136693071363 (Debian). */
    awsAmiOwner: key(pattern(/^(\d{12}|amazon|self)$/, "a 12-digit account id, amazon or self"), "pulumi config set awsAmiOwner 136693071363", "136693071363"),
    /** aws target: instance type of the nginx host. Default: t3.micro. */
    nginxInstanceType: key(pattern(INSTANCE_TYPE, "an instance type such as t3.micro"), "pulumi config set nginxInstanceType t3.micro", "t3.micro"),
    /** aws target: instance type of the blue pool. Default: t3.small. */
    blueInstanceType: key(pattern(INSTANCE_TYPE, "an instance type such as t3.small"), "pulumi config set blueInstanceType t3.small", "t3.small"),
    /** aws target: instance type of the green pool. Default: t3.small. */
    greenInstanceType: key(pattern(INSTANCE_TYPE, "an instance type such as t3.small"), "pulumi config set greenInstanceType t3.small", "t3.small"),
    /** Optional TLS: the certificate chain (PEM); with tlsKey it enables the 443 listener. Set it as a secret. */
    tlsCertificate: key(pattern(PEM_CERTIFICATE, "PEM text starting with -----BEGIN CERTIFICATE-----"), "pulumi config set --secret tlsCertificate < fullchain.pem", ""),
    /** Optional TLS: the certificate's private key (PEM). Set it as a secret. */
    tlsKey: key(pattern(PRIVATE_KEY, "the text of a private key file (-----BEGIN ... PRIVATE KEY-----), unencrypted"), "pulumi config set --secret tlsKey < privkey.pem", ""),
    /** Token that POST /health/drain must carry. Required; set it as a secret. */
    drainToken: key(pattern(TOKEN, "16 to 128 letters, digits, _ or -"), "pulumi config set --secret drainToken \"$(openssl rand -hex 24)\""),
} as const;

/** Keys whose values never appear in error messages. */
const SECRET_KEYS: ReadonlySet<string> = new Set(["drainToken", "sshPrivateKey", "tlsKey", "tlsCertificate"]);

type Keys = typeof CONFIG_KEYS;
export type DeploymentConfig = { readonly [K in keyof Keys]: Keys[K] extends KeySpec<infer T> ? T : never };

/** A config problem: names the key, the bad value and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            problems.length === 1
                ? problems[0]
                : `${problems.length} config problems:\n  - ${problems.join("\n  - ")}`,
        );
        this.name = "ConfigError";
    }
}

function describeIssue(issue: z.core.$ZodIssue): string {
    if (issue.code === "invalid_value") {
        return `must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
    }
    return issue.message;
}

/**
 * Validates raw config strings (as `pulumi config get` returns them) for `project`.
 * Pure: reads nothing but its arguments, so tests can call it directly.
 */
export function parseConfig(project: string, raw: Readonly<Record<string, string | undefined>>): DeploymentConfig {
    const problems: string[] = [];
    const result: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(CONFIG_KEYS) as [keyof Keys, KeySpec<unknown>][]) {
        const value = raw[name];
        const qualified = `${project}:${name}`;
        if (value === undefined || value === "") {
            if (spec.default === undefined && (!(name in TARGET_ONLY) || TARGET_ONLY[name].includes(raw.target ?? "local"))) {
                problems.push(`${qualified} is not set. Fix: ${spec.fix}`);
            } else {
                result[name] = spec.default;
            }
            continue;
        }
        const parsed = spec.schema.safeParse(value);
        if (parsed.success) {
            result[name] = parsed.data;
        } else {
            const why = parsed.error.issues.map(describeIssue).join("; ");
            const shown = SECRET_KEYS.has(name) ? "(secret, not shown)" : JSON.stringify(value);
            problems.push(`${qualified} has the invalid value ${shown}: ${why}. Fix: ${spec.fix}`);
        }
    }
    for (const name of Object.keys(raw)) {
        if (!(name in CONFIG_KEYS)) {
            problems.push(
                `${project}:${name} is not a key this program reads (known: ${Object.keys(CONFIG_KEYS).join(", ")}). ` +
                    `Fix: pulumi config rm ${name}`,
            );
        }
    }
    // A remote nginx host listens on all its addresses unless told otherwise.
    if (raw.publicAddress === undefined && result.target !== undefined && result.target !== "local") result.publicAddress = "0.0.0.0";
    if (problems.length === 0) {
        const c = result as DeploymentConfig;
        problems.push(...portConflicts(project, c), ...sshProblems(project, c), ...tlsProblems(project, c), ...awsProblems(project, c));
    }
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return result as DeploymentConfig;
}

/** Keys required only by one target (they have no default, and other targets ignore them). */
const TARGET_ONLY: Readonly<Record<string, readonly string[]>> = {
    nginxSshHost: ["ssh"],
    sshPrivateKey: ["ssh", "aws"],
    awsPublicKey: ["aws"],
    adminCidr: ["aws"],
};

/** The ssh target needs machines for both pools, each machine in one role only. */
function sshProblems(project: string, c: DeploymentConfig): string[] {
    if (c.target !== "ssh") return [];
    const problems: string[] = [];
    if (c.blueSshHosts.length === 0 && c.greenSshHosts.length === 0) {
        problems.push(`${project}:blueSshHosts and ${project}:greenSshHosts are both empty: the ssh target needs the pools' machines. Fix: pulumi config set --path 'blueSshHosts[0].address' 10.0.1.11`);
    }
    const seen = new Map<string, string>();
    const roles: [string, SshHost[]][] = [["nginxSshHost", [c.nginxSshHost]], ["blueSshHosts", c.blueSshHosts], ["greenSshHosts", c.greenSshHosts]];
    for (const [role, list] of roles) {
        for (const host of list) {
            const other = seen.get(host.address);
            if (other) {
                problems.push(
                    `${project}:${role} lists ${host.address}, which ${other} lists too: each machine has one role (nginx, blue or green), so a deploy to the idle pool never touches what serves. Fix: remove it from one of them`,
                );
            }
            seen.set(host.address, role);
        }
    }
    return problems;
}

/** TLS needs both halves. */
function tlsProblems(project: string, c: DeploymentConfig): string[] {
    if (Boolean(c.tlsCertificate) === Boolean(c.tlsKey)) return [];
    return [`${project}:tlsCertificate and ${project}:tlsKey go together: set both (HTTPS on 443) or neither. Fix: pulumi config set --secret ${c.tlsKey ? "tlsCertificate < fullchain.pem" : "tlsKey < privkey.pem"}`];
}

/** An existing VPC needs its subnets, two of each kind; the pools span two zones. */
function awsProblems(project: string, c: DeploymentConfig): string[] {
    if (c.target !== "aws") return [];
    const problems: string[] = [];
    if (c.awsVpcId) {
        for (const name of ["awsPublicSubnetIds", "awsPrivateSubnetIds"] as const) {
            if (c[name].length !== 2) problems.push(`${project}:${name} lists ${c[name].length} subnet(s): with awsVpcId, list two, in two availability zones. Fix: pulumi config set --path '${name}[1]' subnet-...`);
        }
    } else if (c.awsPublicSubnetIds.length + c.awsPrivateSubnetIds.length > 0) {
        problems.push(`${project}:awsPublicSubnetIds/awsPrivateSubnetIds are set without awsVpcId: they describe an existing VPC. Fix: pulumi config set awsVpcId vpc-..., or remove them to let the program create the VPC`);
    }
    if (c.awsAvailabilityZones.length !== 0 && c.awsAvailabilityZones.length !== 2) {
        problems.push(`${project}:awsAvailabilityZones lists ${c.awsAvailabilityZones.length} zone(s); the pools span exactly two. Fix: pulumi config set --path 'awsAvailabilityZones[1]' eu-west-1b`);
    }
    return problems;
}

/** Listener and app ports must all differ (the local target puts every app on this machine). */
function portConflicts(project: string, c: DeploymentConfig): string[] {
    const problems: string[] = [];
    if (c.publicPort === c.internalPort) {
        problems.push(`${project}:publicPort and ${project}:internalPort are both ${c.publicPort}. Fix: pulumi config set internalPort ${c.publicPort + 1}`);
    }
    if (c.target === "local") {
        const appPorts = [
            ...Array.from({ length: c.blueHosts }, (_, i) => c.appBasePort + 1 + i),
            ...Array.from({ length: c.greenHosts }, (_, i) => c.appBasePort + 101 + i),
        ];
        for (const [name, port] of [["publicPort", c.publicPort], ["internalPort", c.internalPort]] as const) {
            if (appPorts.includes(port)) {
                problems.push(
                    `${project}:${name} is ${port}, which an app host also uses (appBasePort ${c.appBasePort}: blue on ${c.appBasePort + 1}…, green on ${c.appBasePort + 101}…). ` +
                        `Fix: pulumi config set appBasePort ${port + 200}`,
                );
            }
        }
    }
    return problems;
}

/** The validated config as components receive it: secrets stay Pulumi secrets. */
export type ProgramConfig = Omit<DeploymentConfig, "drainToken" | "sshPrivateKey" | "tlsKey" | "tlsCertificate"> & {
    readonly drainToken: pulumi.Output<string>;
    /** Empty for the local target. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Both present, or neither; `fingerprint` (a hash of both) tells a new certificate apart. */
    readonly tls?: { readonly certificate: pulumi.Output<string>; readonly key: pulumi.Output<string>; readonly fingerprint: string };
};

/**
 * Reads every key of the current stack once and validates it. A bad value becomes a
 * `pulumi.RunError`, which the engine prints without a stack trace.
 */
export function loadConfig(): ProgramConfig {
    const project = pulumi.getProject();
    const prefix = `${project}:`;
    // allConfig() holds every key of the stack (secrets decrypted), so typos are caught too.
    const raw: Record<string, string | undefined> = {};
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (fullKey.startsWith(prefix)) raw[fullKey.slice(prefix.length)] = value;
    }
    let parsed: DeploymentConfig;
    try {
        parsed = parseConfig(project, raw);
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
    const { tlsCertificate, tlsKey, ...rest } = parsed;
    return {
        ...rest,
        drainToken: pulumi.secret(parsed.drainToken),
        sshPrivateKey: pulumi.secret(parsed.sshPrivateKey ?? ""),
        tls:
            tlsCertificate && tlsKey
                ? {
                      certificate: pulumi.secret(tlsCertificate),
                      key: pulumi.secret(tlsKey),
                      fingerprint: createHash("sha256").update(`${tlsCertificate}\0${tlsKey}`).digest("hex").slice(0, 16),
                  }
                : undefined,
    };
}
