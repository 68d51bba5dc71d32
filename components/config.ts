// The one place that reads stack config. Every key is validated here, before any resource is
// registered, so a bad value fails `pulumi preview` and changes nothing. The config is a union
// on `target`: the keys every target reads (configKeys.ts) plus the target's own
// (targets/<target>/config.ts), so a key of another target is refused like a typo.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { type Color, COMMON_KEYS, type KeySpec, type KeyTable, TARGETS, type Target } from "./configKeys";
import { AWS_KEYS, type AwsConfig, awsConfigProblems } from "./targets/aws/config";
import { LOCAL_KEYS, type LocalConfig, localConfigProblems } from "./targets/local/config";
import { SSH_KEYS, type SshConfig, sshConfigProblems } from "./targets/ssh/config";
import { PROJECT_DIR, readTemplate } from "./templates";

export { COLORS, SWITCH_MODES, TARGETS, otherColor } from "./configKeys";
export type { Color, SwitchMode, Target } from "./configKeys";
export type { SshHost } from "./targets/ssh/config";

export type DeploymentConfig = LocalConfig | SshConfig | AwsConfig;

/** Each target's own keys and the checks across them. */
const TARGET_KEYS: { readonly [T in Target]: { readonly keys: KeyTable; readonly problems: Checks<T> } } = {
    local: { keys: LOCAL_KEYS, problems: localConfigProblems },
    ssh: { keys: SSH_KEYS, problems: sshConfigProblems },
    aws: { keys: AWS_KEYS, problems: awsConfigProblems },
};
type Checks<T extends Target> = (project: string, c: Extract<DeploymentConfig, { target: T }>) => string[];

/** Every key some target reads, with the targets that read it. */
export const ALL_KEYS: Readonly<Record<string, { readonly spec: KeySpec<unknown>; readonly targets: Target[] }>> =
    Object.fromEntries(
        [...Object.keys(COMMON_KEYS), ...TARGETS.flatMap((t) => Object.keys(TARGET_KEYS[t].keys))]
            .filter((name, i, all) => all.indexOf(name) === i)
            .map((name) => {
                const targets = TARGETS.filter((t) => name in COMMON_KEYS || name in TARGET_KEYS[t].keys);
                const spec = (COMMON_KEYS as KeyTable)[name] ?? TARGET_KEYS[targets[0]].keys[name];
                return [name, { spec, targets }];
            }),
    );

/** The keys a stack of `target` reads. */
export function keysOf(target: Target): KeyTable {
    return { ...COMMON_KEYS, ...TARGET_KEYS[target].keys };
}

/** A config problem: names the key, the bad value and the fix. */
export class ConfigError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(
            problems.length === 1 ? problems[0] : `${problems.length} config problems:\n  - ${problems.join("\n  - ")}`,
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
    const targetParsed = COMMON_KEYS.target.schema.safeParse(raw.target || COMMON_KEYS.target.default);
    // With a bad target, only the common keys are checked (the bad target itself is reported).
    const target = targetParsed.success ? targetParsed.data : undefined;
    const table = target ? keysOf(target) : (COMMON_KEYS as KeyTable);
    for (const [name, spec] of Object.entries(table)) {
        const value = raw[name];
        const qualified = `${project}:${name}`;
        if (value === undefined || value === "") {
            if (spec.default === undefined) problems.push(`${qualified} is not set. Fix: ${spec.fix}`);
            else result[name] = spec.default;
            continue;
        }
        const parsed = spec.schema.safeParse(value);
        if (parsed.success) {
            result[name] = parsed.data;
        } else {
            const why = parsed.error.issues.map(describeIssue).join("; ");
            const shown = spec.secret ? "(secret, not shown)" : JSON.stringify(value);
            problems.push(`${qualified} has the invalid value ${shown}: ${why}. Fix: ${spec.fix}`);
        }
    }
    for (const name of Object.keys(raw)) {
        if (name in table) continue;
        const known = ALL_KEYS[name];
        if (known && target) {
            problems.push(
                `${project}:${name} is read only by the ${known.targets.join(" and ")} target` +
                    `${known.targets.length > 1 ? "s" : ""}, and this stack's target is ${target}. ` +
                    `Fix: pulumi config rm ${name}   (or pulumi config set target ${known.targets[0]})`,
            );
        } else if (!known) {
            problems.push(
                `${project}:${name} is not a key this program reads (known: ${Object.keys(table).join(", ")}). ` +
                    `Fix: pulumi config rm ${name}`,
            );
        }
    }
    if (problems.length === 0 && target) {
        const c = result as DeploymentConfig;
        problems.push(...commonProblems(project, c), ...targetProblems(project, c));
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return result as DeploymentConfig;
}

function targetProblems(project: string, c: DeploymentConfig): string[] {
    switch (c.target) {
        case "local":
            return TARGET_KEYS.local.problems(project, c);
        case "ssh":
            return TARGET_KEYS.ssh.problems(project, c);
        case "aws":
            return TARGET_KEYS.aws.problems(project, c);
    }
}

/** Listener ports must differ; TLS needs both halves, or an ACME CA with its names and address. */
function commonProblems(project: string, c: DeploymentConfig): string[] {
    const problems: string[] = [];
    const https = Boolean(c.tlsCertificate || c.acmeDirectoryUrl);
    if (c.publicPort === c.internalPort) {
        problems.push(
            `${project}:publicPort and ${project}:internalPort are both ${c.publicPort}. ` +
                `Fix: pulumi config set internalPort ${c.publicPort + 1}`,
        );
    }
    if (https && [c.publicPort, c.internalPort].includes(c.httpsPort)) {
        problems.push(
            `${project}:httpsPort is ${c.httpsPort}, which another listener of nginx uses (publicPort ` +
                `${c.publicPort}, internalPort ${c.internalPort}). Fix: pulumi config set httpsPort 8443`,
        );
    }
    for (const [name, on] of [
        ["httpsRedirect", c.httpsRedirect],
        ["hstsMaxAgeSeconds", c.hstsMaxAgeSeconds > 0],
    ] as const) {
        if (on && !https) {
            problems.push(
                `${project}:${name} needs HTTPS, which is off (no tlsCertificate and tlsKey, no acmeDirectoryUrl). ` +
                    `Fix: pulumi config set --secret tlsCertificate < fullchain.pem (and tlsKey), or pulumi config ` +
                    `set acmeDirectoryUrl <your CA>, or pulumi config rm ${name}`,
            );
        }
    }
    if (Boolean(c.tlsCertificate) !== Boolean(c.tlsKey)) {
        const missing = c.tlsKey ? "tlsCertificate < fullchain.pem" : "tlsKey < privkey.pem";
        problems.push(
            `${project}:tlsCertificate and ${project}:tlsKey go together: set both (HTTPS on httpsPort) or neither. ` +
                `Fix: pulumi config set --secret ${missing}`,
        );
    }
    problems.push(...acmeProblems(project, c));
    if (c.canaryPercent > 0 && c.switchMode === "reload") {
        problems.push(
            `${project}:canaryPercent is ${c.canaryPercent}, but a canary picks each client's pool in nginx's ` +
                "shared memory, which needs switchMode no-reload (nginx's Lua module). Fix: pulumi config set " +
                "switchMode no-reload, or pulumi config set canaryPercent 0",
        );
    }
    if (c.bakeSeconds > 0 && c.switchMode === "reload") {
        problems.push(
            `${project}:bakeSeconds is ${c.bakeSeconds}, but the bake reads nginx's metrics by colour, which ` +
                "need switchMode no-reload (nginx's Lua module). Fix: pulumi config set switchMode no-reload, " +
                "or pulumi config set bakeSeconds 0",
        );
    }
    return problems;
}

/** ACME: one source of certificates, names to ask for, an account address; its other keys only with it. */
function acmeProblems(project: string, c: DeploymentConfig): string[] {
    if (!c.acmeDirectoryUrl) {
        return (["acmeEmail", "acmeCaCertificate"] as const)
            .filter((name) => c[name])
            .map(
                (name) =>
                    `${project}:${name} is set, but ACME is off (no acmeDirectoryUrl), so nothing reads it. ` +
                    `Fix: pulumi config set acmeDirectoryUrl <your CA's directory URL>, or pulumi config rm ${name}`,
            );
    }
    const problems: string[] = [];
    if (c.tlsCertificate || c.tlsKey) {
        problems.push(
            `${project}:acmeDirectoryUrl is ${c.acmeDirectoryUrl}, and tlsCertificate/tlsKey are set too: ` +
                `certificates come from one place. Fix: pulumi config rm tlsCertificate && pulumi config rm tlsKey ` +
                `(the ACME CA's replaces them), or pulumi config rm acmeDirectoryUrl`,
        );
    }
    if (c.hostNames.length === 0) {
        problems.push(
            `${project}:acmeDirectoryUrl is set, but hostNames is empty: the CA certifies names. ` +
                `Fix: pulumi config set --path 'hostNames[0]' shop.example.com`,
        );
    }
    if (!c.acmeEmail) {
        problems.push(
            `${project}:acmeDirectoryUrl is set, but acmeEmail is not: the CA's account needs a contact. ` +
                `Fix: pulumi config set acmeEmail ops@example.com`,
        );
    }
    return problems;
}

type SecretKeys = "drainToken" | "sshPrivateKey" | "tlsKey" | "tlsCertificate";

/**
 * TLS as components receive it: a certificate and key from config (both halves), or an ACME CA
 * that the nginx host asks for them. `fingerprint` tells a new configured certificate apart; an
 * ACME one changes on the host, without a new config.
 */
export type TlsConfig =
    | {
          readonly source: "config";
          readonly certificate: pulumi.Output<string>;
          readonly key: pulumi.Output<string>;
          readonly fingerprint: string;
      }
    | { readonly source: "acme"; readonly acme: AcmeConfig; readonly fingerprint: string };

export interface AcmeConfig {
    readonly directoryUrl: string;
    readonly email: string;
    /** PEM; "" trusts the system's CAs. */
    readonly caCertificate: string;
    readonly renewDays: number;
}

/** The validated config as components receive it: secrets stay Pulumi secrets. */
export type ProgramConfig = DeploymentConfig extends infer C
    ? C extends DeploymentConfig
        ? Omit<C, SecretKeys> & {
              readonly drainToken: pulumi.Output<string>;
              readonly tls?: TlsConfig;
              /** The maintenance page's HTML: maintenancePage's file, or the project's default. */
              readonly maintenancePageHtml: string;
          } & (C extends { readonly sshPrivateKey: string }
                  ? { readonly sshPrivateKey: pulumi.Output<string> }
                  : object)
        : never
    : never;

export type ProgramConfigOf<T extends Target> = Extract<ProgramConfig, { target: T }>;

/** The release a pool is configured with (`<color>Version`, `<color>Artifact`). */
export function poolRelease(config: DeploymentConfig | ProgramConfig, color: Color) {
    return color === "blue"
        ? { version: config.blueVersion, artifact: config.blueArtifact }
        : { version: config.greenVersion, artifact: config.greenArtifact };
}

/**
 * How long a stopping app (its unit's stop timeout) or nginx stopping for good may take: the drain,
 * plus a margin for the process to exit once drained (nginx's old workers after a reload: timing.ts).
 */
export function shutdownTimeoutSeconds(config: { readonly drainTimeoutSeconds: number }): number {
    return config.drainTimeoutSeconds + 5;
}

/** The page travels in the switch's environment: one variable, well under Linux's 128 KiB for one. */
const MAINTENANCE_PAGE_MAX_BYTES = 64 * 1024;

/** maintenancePage's file (relative to the project), or the default page; a problem is a RunError naming the key. */
function readMaintenancePage(project: string, configured: string): string {
    if (!configured) return readTemplate("nginx/maintenance.html");
    const file = path.resolve(PROJECT_DIR, configured);
    const problem = (why: string) =>
        new pulumi.RunError(
            `${project}:maintenancePage is ${JSON.stringify(configured)}, ${why}. Fix: pulumi config set ` +
                "maintenancePage path/to/maintenance.html (an HTML file, relative to the project), or " +
                "pulumi config rm maintenancePage (the default page)",
        );
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw problem(`which cannot be read as a file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const bytes = Buffer.byteLength(text);
    if (bytes === 0) throw problem("an empty file");
    if (bytes > MAINTENANCE_PAGE_MAX_BYTES) {
        throw problem(
            `${bytes} bytes long; the page may have at most ${MAINTENANCE_PAGE_MAX_BYTES} (link images instead)`,
        );
    }
    return text;
}

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
    const { tlsCertificate, tlsKey, drainToken, ...rest } = parsed;
    const tls: TlsConfig | undefined =
        tlsCertificate && tlsKey
            ? {
                  source: "config",
                  certificate: pulumi.secret(tlsCertificate),
                  key: pulumi.secret(tlsKey),
                  fingerprint: createHash("sha256").update(`${tlsCertificate}\0${tlsKey}`).digest("hex").slice(0, 16),
              }
            : rest.acmeDirectoryUrl
              ? {
                    source: "acme",
                    acme: {
                        directoryUrl: rest.acmeDirectoryUrl,
                        email: rest.acmeEmail,
                        caCertificate: rest.acmeCaCertificate,
                        renewDays: rest.acmeRenewDays,
                    },
                    fingerprint: "acme",
                }
              : undefined;
    const maintenancePageHtml = readMaintenancePage(project, rest.maintenancePage);
    const common = { drainToken: pulumi.secret(drainToken), tls, maintenancePageHtml };
    if (rest.target === "local") return { ...rest, ...common };
    return { ...rest, ...common, sshPrivateKey: pulumi.secret(rest.sshPrivateKey) } as ProgramConfig;
}
