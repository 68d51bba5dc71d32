// The nginx config as a pure function of the deployment: both pools' upstreams, the live
// pool on the public listener, each pool by path on the internal listener.
import { createHash } from "node:crypto";
import type { Color, ProgramConfig, SwitchMode } from "./config";
import { render } from "./templates";
import { type SwitchTiming, workerShutdownTimeoutSeconds } from "./timing";

export interface UpstreamHost {
    readonly address: string;
    readonly port: number;
}

export interface NginxConfigInput {
    /** Absolute prefix directory: conf/, logs/, temp/ live under it. */
    readonly prefix: string;
    /**
     * reload: the live pool is written into the config, a switch reloads nginx.
     * no-reload: the config holds both pools and no live colour; a switch sets the colour in
     * nginx's shared memory (Lua module) and closes no connection.
     */
    readonly switchMode: SwitchMode;
    /** In no-reload mode it is not part of the config (a switch must not change the config). */
    readonly liveColor: Color;
    readonly pools: Readonly<Record<Color, readonly UpstreamHost[]>>;
    readonly publicAddress: string;
    readonly publicPort: number;
    readonly internalAddress: string;
    readonly internalPort: number;
    /** Bound on how long old workers finish requests in flight after a reload. */
    readonly workerShutdownTimeoutSeconds: number;
    /** Default: auto. */
    readonly workerProcesses?: number | "auto";
    /** The workers' user, where the master runs as root (the `user` directive); absent elsewhere. */
    readonly workerUser?: string;
    /** Default: 10m. */
    readonly clientMaxBodySize?: string;
    /** App paths (and everything under them) the public listener answers 404 for. Default: none. */
    readonly privatePaths?: readonly string[];
    /** Connections one client address may hold on the public listener; 0 = no limit. Default: 0. */
    readonly clientConnectionLimit?: number;
    /** Requests per second one client address may make (bursts of twice as many); 0 = no limit. Default: 0. */
    readonly clientRequestRate?: number;
    /**
     * HTTPS on `port` with the certificate and key that nginx-switch.sh writes to conf/tls/.
     * `fingerprint` identifies them, so a new certificate is a new config (and a reload).
     * Absent: no ssl listener at all (one without a certificate fails `nginx -t`).
     */
    readonly tls?: {
        readonly port: number;
        readonly fingerprint: string;
        /** Plain HTTP answers 308 to HTTPS. */
        readonly redirect?: boolean;
        /** Strict-Transport-Security max-age on HTTPS answers; 0 or absent: none. */
        readonly hstsMaxAgeSeconds?: number;
        /** The ACME CA's directory URL, when the nginx host obtains the certificate itself. */
        readonly acmeDirectoryUrl?: string;
    };
    /**
     * Plain HTTP serves the ACME HTTP-01 challenge files that lego writes to <prefix>/acme-challenge,
     * never redirected. Set with ACME, with or without the HTTPS listener (see acmeBootstrapInput).
     */
    readonly acmeChallenge?: boolean;
    /** The public host names, the first the primary; others get 421. Default: none, any Host is served. */
    readonly hostNames?: readonly string[];
    /**
     * Maintenance mode: the public listener answers 503 (Retry-After, the page nginx-switch.sh writes
     * to <prefix>/maintenance/, JSON to clients that ask for it). In no-reload mode `on` is not part of
     * the config: the switch sets it in shared memory, as the live colour.
     */
    readonly maintenance?: { readonly on: boolean; readonly retryAfterSeconds: number };
}

export interface RenderedNginxConfig {
    readonly text: string;
    /** Identifies this exact config; nginx serves it on the internal listener after a reload. */
    readonly configId: string;
}

/**
 * The settings a config is rendered from, as text, for the plan to name what changed between two
 * updates. The pools and the live colour are left out: the plan reads those from the pools.
 */
export function renderedSettings(input: NginxConfigInput): Record<string, string> {
    const { pools: _pools, liveColor: _live, maintenance, ...rest } = input;
    const settings = {
        ...rest,
        maintenance: maintenance?.on ? "on" : "off",
        maintenanceRetryAfterSeconds: maintenance?.retryAfterSeconds,
    };
    const text = (value: unknown): string =>
        value === undefined
            ? ""
            : typeof value === "object" && value !== null
              ? Object.values(value).join(" ")
              : String(value);
    return Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, text(value)]));
}

/** The config's input from the stack config, the nginx host's prefix and both pools' hosts. */
export function nginxConfigInput(
    config: ProgramConfig,
    prefix: string,
    pools: Readonly<Record<Color, readonly UpstreamHost[]>>,
    internalAddress: string,
    timing: SwitchTiming,
    workerUser?: string,
): NginxConfigInput {
    return {
        prefix,
        ...(workerUser ? { workerUser } : {}),
        switchMode: config.switchMode,
        liveColor: config.activeColor,
        pools,
        publicAddress: config.publicAddress,
        publicPort: config.publicPort,
        internalAddress,
        internalPort: config.internalPort,
        workerShutdownTimeoutSeconds: workerShutdownTimeoutSeconds(timing),
        privatePaths: config.privatePaths,
        clientConnectionLimit: config.clientConnectionLimit,
        clientRequestRate: config.clientRequestRate,
        tls: config.tls
            ? {
                  port: config.httpsPort,
                  fingerprint: config.tls.fingerprint,
                  // Only when set: a config without them keeps its id.
                  ...(config.httpsRedirect ? { redirect: true } : {}),
                  ...(config.hstsMaxAgeSeconds > 0 ? { hstsMaxAgeSeconds: config.hstsMaxAgeSeconds } : {}),
                  ...(config.tls.source === "acme" ? { acmeDirectoryUrl: config.tls.acme.directoryUrl } : {}),
              }
            : undefined,
        ...(config.tls?.source === "acme" ? { acmeChallenge: true } : {}),
        ...(config.hostNames.length > 0 ? { hostNames: config.hostNames } : {}),
        maintenance: { on: config.maintenance, retryAfterSeconds: config.maintenanceRetryAfterSeconds },
    };
}

/**
 * With ACME, before the nginx host has a certificate: the same config without the HTTPS listener,
 * so that nginx can start (or keep) serving and answer the CA's challenge for the first one.
 */
export function acmeBootstrapInput<T extends Omit<NginxConfigInput, "prefix">>(input: T): Omit<T, "tls"> {
    const { tls: _tls, ...withoutTls } = input;
    return withoutTls;
}

/**
 * The nginx regex for a private path: the path itself and everything under it, matched
 * case-insensitively (`location ~*`) on nginx's normalised URI. Paths were validated against
 * [A-Za-z0-9._~/-]: only the dot needs escaping.
 */
export function privatePathPattern(path: string): string {
    const trimmed = path.replace(/\/+$/, "");
    return `"^${trimmed.replace(/\./g, "\\.")}(/|$)"`;
}

/** Retry-After of maintenance answers where the input does not say (tests). */
const DEFAULT_RETRY_AFTER_SECONDS = 300;

export function upstreamName(color: Color): string {
    return `pool_${color}`;
}

export function renderNginxConfig(input: NginxConfigInput): RenderedNginxConfig {
    const pools = (Object.keys(input.pools) as Color[])
        .filter((color) => input.pools[color].length > 0)
        .map((color) => ({ color, upstream: upstreamName(color), hosts: input.pools[color] }));
    if (!pools.some((pool) => pool.color === input.liveColor)) {
        throw new Error(`the live pool ${input.liveColor} has no hosts`);
    }
    const noReload = input.switchMode === "no-reload";
    const retryAfterSeconds = input.maintenance?.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
    const context = {
        prefix: input.prefix,
        noReload,
        // In no-reload mode the rendered text must not depend on the live colour.
        liveColor: noReload ? "" : input.liveColor,
        liveUpstream: noReload ? "" : upstreamName(input.liveColor),
        pools,
        publicAddress: input.publicAddress,
        publicPort: input.publicPort,
        internalAddress: input.internalAddress,
        internalPort: input.internalPort,
        workerShutdownTimeoutSeconds: input.workerShutdownTimeoutSeconds,
        workerProcesses: input.workerProcesses ?? "auto",
        clientMaxBodySize: input.clientMaxBodySize ?? "10m",
        privatePathPatterns: [...new Set(input.privatePaths ?? [])].map(privatePathPattern),
        clientLimits: Boolean(input.clientConnectionLimit || input.clientRequestRate),
        clientConnectionLimit: input.clientConnectionLimit ?? 0,
        clientRequestRate: input.clientRequestRate ?? 0,
        clientRequestBurst: 2 * (input.clientRequestRate ?? 0),
        // The redirect's port, only with it: a config without a redirect keeps its id.
        tls: input.tls?.redirect
            ? { ...input.tls, portSuffix: input.tls.port === 443 ? "" : `:${input.tls.port}` }
            : (input.tls ?? false),
        ...(input.acmeChallenge ? { acmeChallenge: true } : {}),
        maintenance: {
            // In no-reload mode the rendered text must not depend on it either (set like the live colour).
            on: !noReload && Boolean(input.maintenance?.on),
            retryAfterSeconds,
            json: JSON.stringify({ status: "maintenance", retryAfterSeconds }),
        },
        // Only when set: a config without them keeps the id it had before there were any.
        ...(input.hostNames?.length
            ? {
                  hostNames: input.hostNames,
                  primaryHostName: input.hostNames[0],
                  serverNames: input.hostNames.join(" "),
              }
            : {}),
    };
    // Hashed only when set: a config without it keeps the id it had before there was one.
    const identity = input.workerUser ? { ...context, workerUser: input.workerUser } : context;
    const configId = createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 16);
    return {
        text: render("nginx/nginx.conf.hbs", { ...context, workerUser: input.workerUser ?? "", configId }),
        configId,
    };
}
