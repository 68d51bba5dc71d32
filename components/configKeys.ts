// How a config key is declared: its schema, default and fix. The keys every target reads are
// here; each target declares its own in components/targets/<target>/config.ts.
import { z } from "zod";

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

export const TARGETS = ["local", "ssh", "aws"] as const;
export type Target = (typeof TARGETS)[number];

export const SWITCH_MODES = ["no-reload", "reload"] as const;
export type SwitchMode = (typeof SWITCH_MODES)[number];

/** The colour that is not `color`: the idle pool when `color` is live. */
export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}

/**
 * One config key: how to parse its raw string, its default, and the line of help
 * that ends every error about it.
 */
export interface KeySpec<T> {
    readonly schema: z.ZodType<T>;
    readonly default?: T;
    /** What to do instead, shown after the bad value. */
    readonly fix: string;
    /** Its value never appears in an error message. */
    readonly secret?: boolean;
}

export type KeyTable = Readonly<Record<string, KeySpec<unknown>>>;

/** The parsed values of a key table. */
export type Parsed<K> = { readonly [N in keyof K]: K[N] extends KeySpec<infer T> ? T : never };

export function key<T>(schema: z.ZodType<T>, fix: string, defaultValue?: T): KeySpec<T> {
    return { schema, fix, default: defaultValue };
}

export function secretKey<T>(schema: z.ZodType<T>, fix: string, defaultValue?: T): KeySpec<T> {
    return { schema, fix, default: defaultValue, secret: true };
}

// Patterns for values that land in nginx config or reach a shell: strict, so nothing a
// value contains can end a directive, start a new one or be run as a command.
const VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;
export const RELATIVE_OR_ABSOLUTE_PATH = /^(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]{1,255}$/;
const COMMAND_LINE = /^[A-Za-z0-9 ._/=:+-]{1,200}$/;
/** One IPv4 octet, 0 to 255, no leading zeros. */
export const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
export const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
export const HOSTNAME =
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A host name as clients send it in Host: lower case, so that every check sends exactly what is listed. */
const LOWER_CASE_HOSTNAME = new RegExp(HOSTNAME.source.replace(/A-Za-z0-9/g, "a-z0-9"));
const URL_PATH = /^\/[A-Za-z0-9._~/-]{0,200}$/;
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;
/** An https URL without query or fragment: it reaches a shell as one word. */
const HTTPS_URL = /^https:\/\/[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]{0,200})?$/;
const EMAIL = /^[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$/;
const PEM_CERTIFICATE = /^(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;
export const PRIVATE_KEY =
    /^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=:,\r\n -]+\r?\n-----END ([A-Z]+ )?PRIVATE KEY-----\s*$/;
export const PRIVATE_KEY_HELP = "the text of a private key file (-----BEGIN ... PRIVATE KEY-----), unencrypted";

export function pattern(re: RegExp, what: string) {
    return z.string().regex(re, { message: `must be ${what}` });
}

/** A whole number in [min, max], given as config text. */
export function integer(min: number, max: number) {
    return z
        .string()
        .regex(/^\d+$/, { message: `must be a whole number from ${min} to ${max}` })
        .transform(Number)
        .pipe(
            z
                .number()
                .min(min, { message: `must be at least ${min}` })
                .max(max, { message: `must be at most ${max}` }),
        );
}

export const port = () => integer(1024, 65535);

/** JSON text (as Pulumi stores structured config) parsed, then checked against `schema`. */
export function json<T>(schema: z.ZodType<T>, what: string) {
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
export function jsonList<T>(item: z.ZodType<T>, what: string) {
    const description = `a JSON list of ${what}`;
    const list = z
        .array(item, { message: `must be ${description}` })
        .min(1, { message: "must list at least one" })
        .max(20);
    return json(list, description);
}

const ARTIFACT_HELP = "a directory or tarball path without '..' (letters, digits, . _ / -)";
const VERSION_HELP = "a version such as 1.4.2 (letters, digits, . _ + -)";
const URL_PATH_HELP = (example: string) => `a URL path such as ${example} (letters, digits, . _ ~ / -)`;

/** The keys every target reads. Nothing outside the key tables reads config. */
export const COMMON_KEYS = {
    /** Which pool serves traffic. Required: a switch is always an explicit choice. */
    activeColor: key(z.enum(COLORS), "pulumi config set activeColor blue   (or green)"),
    /** Where the hosts come from. Default: local. */
    target: key(z.enum(TARGETS), "pulumi config set target local   (or ssh, aws)", "local"),
    /** How nginx changes pools: no-reload (Lua shared memory, closes no connection) or reload. */
    switchMode: key(
        z.enum(SWITCH_MODES),
        "pulumi config set switchMode no-reload   " +
            "(or reload: works on any nginx, but a reload closes idle keep-alive connections)",
        "no-reload",
    ),
    /** Release version deployed to the blue pool. */
    blueVersion: key(pattern(VERSION, VERSION_HELP), "pulumi config set blueVersion 1.0.1", "1.0.0"),
    /** Release version deployed to the green pool. */
    greenVersion: key(pattern(VERSION, VERSION_HELP), "pulumi config set greenVersion 1.0.1", "1.0.0"),
    /** The blue release: a directory, or a tarball of one, of any app that follows the health contract. */
    blueArtifact: key(
        pattern(RELATIVE_OR_ABSOLUTE_PATH, ARTIFACT_HELP),
        "pulumi config set blueArtifact path/to/app   (or path/to/app-1.4.2.tgz)",
        "bin/app",
    ),
    /** The green release: a directory or a tarball. Default: bin/app, the reference app. */
    greenArtifact: key(
        pattern(RELATIVE_OR_ABSOLUTE_PATH, ARTIFACT_HELP),
        "pulumi config set greenArtifact path/to/app   (or path/to/app-1.4.2.tgz)",
        "bin/app",
    ),
    /** How a release starts, run in its directory with PORT and the rest in the environment. */
    appStartCommand: key(
        pattern(COMMAND_LINE, "a plain command line (letters, digits, space, . _ / = : + -)"),
        "pulumi config set appStartCommand 'node server.js'",
        "node server.js",
    ),
    /** Port of nginx's public listener (below 1024: its systemd unit grants the right; without systemd, root). */
    publicPort: key(integer(1, 65535), "pulumi config set publicPort 8080", 8080),
    /** Port of nginx's internal listener (loopback only: each pool by path, status). */
    internalPort: key(port(), "pulumi config set internalPort 8081", 8081),
    /** Health gate: how long every host of the pool going live may take to be ready. */
    gateTimeoutSeconds: key(integer(1, 600), "pulumi config set gateTimeoutSeconds 30", 30),
    /** Health gate and deploys: how often /health is polled. */
    healthIntervalMs: key(integer(50, 5000), "pulumi config set healthIntervalMs 200", 200),
    /** How long a draining app may take to finish requests in flight. */
    drainTimeoutSeconds: key(integer(1, 600), "pulumi config set drainTimeoutSeconds 30", 30),
    /** Paths requested through the public listener after a switch; each must answer 2xx from the new colour. */
    smokePaths: key(
        jsonList(pattern(URL_PATH, URL_PATH_HELP("/health")), "URL paths"),
        "pulumi config set --path 'smokePaths[0]' /",
        ["/"],
    ),
    /** App paths the public listener answers 404 for (status pages). */
    privatePaths: key(
        jsonList(pattern(URL_PATH, URL_PATH_HELP("/status")), "URL paths"),
        "pulumi config set --path 'privatePaths[0]' /status",
        ["/status"],
    ),
    /**
     * The public host names (the first is the primary): nginx's server_name, and the Host (and TLS
     * SNI) of every check. Requests for other names get 421 from nginx. Unset: any Host is served.
     */
    hostNames: key(
        jsonList(
            pattern(LOWER_CASE_HOSTNAME, "a host name in lower case, such as shop.example.com"),
            "host names",
        ).refine((names) => new Set(names).size === names.length, { message: "must not list a name twice" }),
        "pulumi config set --path 'hostNames[0]' shop.example.com",
        [],
    ),
    /** Connections one client address may hold on the public listener (past it: 429); 0 = no limit. */
    clientConnectionLimit: key(integer(0, 100000), "pulumi config set clientConnectionLimit 256", 256),
    /**
     * Requests per second one client address may make on the public listener, with bursts of twice
     * as many (past it: 429); 0 = no limit. Off by default: clients behind one NAT share an address.
     */
    clientRequestRate: key(integer(0, 100000), "pulumi config set clientRequestRate 100", 0),
    /** Optional TLS: the certificate chain (PEM); with tlsKey it enables the HTTPS listener (httpsPort). */
    tlsCertificate: secretKey(
        pattern(PEM_CERTIFICATE, "PEM text starting with -----BEGIN CERTIFICATE-----"),
        "pulumi config set --secret tlsCertificate < fullchain.pem",
        "",
    ),
    /** Port of nginx's HTTPS listener, when TLS is on (below 1024: as publicPort). */
    httpsPort: key(integer(1, 65535), "pulumi config set httpsPort 8443", 443),
    /** With TLS: plain HTTP answers 308 to the same URL over HTTPS. */
    httpsRedirect: key(
        z.enum(["true", "false"]).transform((value) => value === "true"),
        "pulumi config set httpsRedirect true   (or false)",
        false,
    ),
    /** With TLS: Strict-Transport-Security max-age on HTTPS answers; 0 = none. */
    hstsMaxAgeSeconds: key(integer(0, 63072000), "pulumi config set hstsMaxAgeSeconds 31536000", 0),
    /** Optional TLS: the certificate's private key (PEM). */
    tlsKey: secretKey(pattern(PRIVATE_KEY, PRIVATE_KEY_HELP), "pulumi config set --secret tlsKey < privkey.pem", ""),
    /**
     * Optional TLS from an ACME CA (instead of tlsCertificate and tlsKey): its directory URL. The
     * nginx host obtains a certificate for hostNames (HTTP-01 on publicPort) and renews it itself.
     * Setting it accepts that CA's terms of service.
     */
    acmeDirectoryUrl: key(
        pattern(HTTPS_URL, "an https URL such as https://acme-v02.api.letsencrypt.org/directory"),
        "pulumi config set acmeDirectoryUrl https://acme-v02.api.letsencrypt.org/directory",
        "",
    ),
    /** With ACME: the account's contact address. */
    acmeEmail: key(pattern(EMAIL, "an e-mail address"), "pulumi config set acmeEmail ops@example.com", ""),
    /** With ACME: a CA certificate (PEM) to trust for the directory URL, for a private CA; default: the system's. */
    acmeCaCertificate: key(
        pattern(PEM_CERTIFICATE, "PEM text starting with -----BEGIN CERTIFICATE-----"),
        "pulumi config set acmeCaCertificate < ca.pem   (or pulumi config rm acmeCaCertificate)",
        "",
    ),
    /** With ACME: a certificate is renewed when it expires within this many days. */
    acmeRenewDays: key(integer(1, 60), "pulumi config set acmeRenewDays 30", 30),
    /**
     * Maintenance mode: the public listener answers 503 with Retry-After and the maintenance page
     * (JSON to clients that ask for it) instead of reaching the apps, which keep running. In
     * no-reload mode it goes on and off without a reload.
     */
    maintenance: key(
        z.enum(["true", "false"]).transform((value) => value === "true"),
        "pulumi config set maintenance true   (or false)",
        false,
    ),
    /** With maintenance: the Retry-After of its answers. */
    maintenanceRetryAfterSeconds: key(integer(1, 86400), "pulumi config set maintenanceRetryAfterSeconds 300", 300),
    /** With maintenance: an HTML file to answer with instead of templates/nginx/maintenance.html. */
    maintenancePage: key(
        pattern(RELATIVE_OR_ABSOLUTE_PATH, "a path to an HTML file without '..' (letters, digits, . _ / -)"),
        "pulumi config set maintenancePage path/to/maintenance.html   (or pulumi config rm maintenancePage)",
        "",
    ),
    /**
     * Run once when a release goes live, after the gate and before traffic moves, on the first host
     * of the pool going live, in the release's directory (migrations, cache warm-up). Its failure
     * fails the update and traffic stays where it was.
     */
    preSwitchCommand: key(
        pattern(COMMAND_LINE, "a plain command line (letters, digits, space, . _ / = : + -)"),
        "pulumi config set preSwitchCommand 'node migrate.js'   (or pulumi config rm preSwitchCommand)",
        "",
    ),
    /**
     * Run once when a release has gone live and is verified, on the same host (notices). Its failure
     * is a warning: traffic stays on the new release.
     */
    postSwitchCommand: key(
        pattern(COMMAND_LINE, "a plain command line (letters, digits, space, . _ / = : + -)"),
        "pulumi config set postSwitchCommand './notify-deploy.sh'   (or pulumi config rm postSwitchCommand)",
        "",
    ),
    /** How long each hook may run before it is stopped (and counts as failed). */
    hookTimeoutSeconds: key(integer(1, 3600), "pulumi config set hookTimeoutSeconds 300", 300),
    /**
     * Canary: this share of clients (percent) goes to the idle pool, each client kept on its pool by
     * a cookie; 0 sends every client to activeColor. Gated like a switch. No-reload mode only.
     */
    canaryPercent: key(
        integer(0, 100),
        "pulumi config set canaryPercent 10   (0 ends the canary; a switch of activeColor completes it)",
        0,
    ),
    /**
     * After a switch, watch the new colour's metrics for this long (0: off); over a threshold the
     * previous colour goes back at once and the update fails with the figures. No-reload mode only.
     */
    bakeSeconds: key(integer(0, 3600), "pulumi config set bakeSeconds 60   (0 turns it off)", 0),
    /** During the bake: the most 5xx answers the new colour may give, in percent of its requests. */
    bakeMax5xxPercent: key(
        z
            .string()
            .regex(/^\d{1,3}(\.\d{1,2})?$/, { message: "must be a percentage such as 1 or 0.5" })
            .transform(Number)
            .pipe(z.number().max(100, { message: "must be at most 100" })),
        "pulumi config set bakeMax5xxPercent 1",
        1,
    ),
    /** During the bake: the highest p99 latency allowed, in ms (0: not checked). */
    bakeMaxP99Ms: key(integer(0, 600000), "pulumi config set bakeMaxP99Ms 500   (0: not checked)", 0),
    /** During the bake: requests the new colour must have answered before it is judged. */
    bakeMinRequests: key(integer(1, 1000000), "pulumi config set bakeMinRequests 100", 100),
    /** Token that POST /health/drain must carry. Required. */
    drainToken: secretKey(
        pattern(TOKEN, "16 to 128 letters, digits, _ or -"),
        'pulumi config set --secret drainToken "$(openssl rand -hex 24)"',
    ),
} as const;

/** Address of nginx's public listener; each target has its own default. */
export function publicAddressKey(defaultValue: string) {
    return key(
        pattern(IPV4, "an IPv4 address such as 127.0.0.1"),
        "pulumi config set publicAddress 127.0.0.1",
        defaultValue,
    );
}

/** How many hosts each pool has, where the program creates them (local, aws). */
export const POOL_SIZE_KEYS = {
    /** Hosts in the blue pool. */
    blueHosts: key(integer(0, 50), "pulumi config set blueHosts 2", 2),
    /** Hosts in the green pool. */
    greenHosts: key(integer(0, 50), "pulumi config set greenHosts 2", 2),
} as const;

export type CommonConfig = Parsed<typeof COMMON_KEYS>;
