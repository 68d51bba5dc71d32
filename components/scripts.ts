// Every template script the program runs, declared once: its file, the libraries in front of it
// and the variables it takes. A resource's environment is typed by these declarations, so a
// missing or misspelt variable fails to compile; test/unit/scripts.test.ts checks each
// declaration against the `need` lines of the script and its libraries.
import type * as pulumi from "@pulumi/pulumi";
import { ENV_PREFIX, type HostScript } from "./hosts";
import type { Script } from "./templates";
import { loadScript } from "./templates";

export interface ScriptDeclaration<
    Required extends string = string,
    Optional extends string = string,
    Trigger extends string = string,
> {
    /** Under templates/scripts. */
    readonly file: string;
    /** Function libraries put in front of it, in this order, after lib.sh. */
    readonly libraries: readonly string[];
    /** Named by a `need` line of the script or a library. */
    readonly required: readonly Required[];
    /** Read when set (`${NAME:-…}`); named by an `# optional:` line. */
    readonly optional: readonly Optional[];
    /** Never read: sent only so the command runs again when they change. */
    readonly triggers: readonly Trigger[];
}

function declare<R extends string, O extends string = never, T extends string = never>(
    file: string,
    libraries: readonly string[],
    inputs: { required: readonly R[]; optional?: readonly O[]; triggers?: readonly T[] },
): ScriptDeclaration<R, O, T> {
    return {
        file,
        libraries,
        required: inputs.required,
        optional: inputs.optional ?? [],
        triggers: inputs.triggers ?? [],
    };
}

/** The variables a declared script takes, as a resource's environment (or, `V = string`, a process's). */
export type ScriptInputs<D, V = pulumi.Input<string>> =
    D extends ScriptDeclaration<infer R, infer O, infer T>
        ? { readonly [K in R | T]: V } & { readonly [K in O]?: V }
        : never;

const SUPERVISOR_LIBRARIES = ["supervisor/supervisor.sh", "supervisor/process.sh", "supervisor/systemd.sh"];
/** What the supervisor libraries read, to start or stop an app. */
const SUPERVISED = [
    "HOST_NAME",
    "HOST_DIR",
    "DRAIN_TIMEOUT_SECONDS",
    "UNIT_TEXT",
    "PORT",
    "BIND_ADDRESS",
    "POOL_COLOR",
    "DRAIN_TOKEN_FILE",
    "START_COMMAND",
] as const;
/** APP_USER: who runs the app, when not the login (the login is root). */
const SUPERVISED_OPTIONAL = ["SUPERVISOR", "APP_USER"] as const;
/** Tests point the nginx scripts at another nginx binary; the program never does. */
const NGINX_BIN = "NGINX_BIN";
const NGINX = ["NGINX_PREFIX"] as const;
const GATE = ["POOL_COLOR", "EXPECT_VERSION", "GATE_TIMEOUT_SECONDS", "HEALTH_INTERVAL_MS"] as const;
const GATE_OPTIONAL = ["HOSTS", "HOST_HEADER", "INSTANCES"] as const;
/** What switch-lib.sh reads besides the gate's interval: the config, the colour, where to verify. */
const SWITCH_STATE = [
    "NGINX_CONF",
    "CONFIG_ID",
    "SWITCH_MODE",
    "LIVE_COLOR",
    "VERIFY_URL",
    "INTERNAL_URL",
    "SMOKE_PATHS",
    "VERIFY_TIMEOUT_SECONDS",
    "BASE_DIR",
] as const;
/** What acme-lib.sh reads: the CA, the account, the names, when to renew. */
const ACME = ["ACME_DIRECTORY_URL", "ACME_EMAIL", "ACME_RENEW_DAYS", "ACME_TIMEOUT_SECONDS", "HOST_NAMES"] as const;
const ACME_OPTIONAL = ["ACME_CA_CERTIFICATE", "LEGO_BIN"] as const;

export const SCRIPTS = {
    /** Writes a host's drain token, mode 600 (the app's own user's where it has one). */
    writeToken: declare("write-token.sh", [], {
        required: ["TOKEN_FILE", "DRAIN_TOKEN", "BASE_DIR"],
        optional: ["APP_USER"],
    }),
    /** Deploys a release on a pool host and waits until it is ready. */
    deployHost: declare("deploy-host.sh", SUPERVISOR_LIBRARIES, {
        required: [
            ...SUPERVISED,
            "APP_VERSION",
            "RELEASE_ID",
            "ARTIFACT",
            "READY_TIMEOUT_SECONDS",
            "HEALTH_INTERVAL_MS",
            "BASE_DIR",
        ],
        optional: [...SUPERVISED_OPTIONAL, "HOST_HEADER"],
    }),
    /** Drains and stops a pool host's app (its deployment is deleted). */
    stopHost: declare("stop-host.sh", SUPERVISOR_LIBRARIES, { required: SUPERVISED, optional: SUPERVISED_OPTIONAL }),
    /** Every host of the pool going live is ready, checked in parallel. */
    healthGate: declare("health-gate.sh", ["gate-lib.sh"], {
        required: GATE,
        optional: GATE_OPTIONAL,
        triggers: ["CONFIG_ID"],
    }),
    /** Writes, tests and applies the nginx config and the live colour, verifies, restores on failure. */
    nginxSwitch: declare(
        "nginx-switch.sh",
        [
            "nginx-lib.sh",
            "nginx-modules.sh",
            "gate-lib.sh",
            "confirm-lib.sh",
            "switch-lib.sh",
            "bake-lib.sh",
            "acme-lib.sh",
            "acme-switch.sh",
        ],
        {
            required: [...NGINX, ...GATE, ...SWITCH_STATE],
            optional: [
                ...GATE_OPTIONAL,
                NGINX_BIN,
                // Only named in messages.
                "HOST_NAME",
                "RECONCILE",
                "SUPERVISOR",
                "NGINX_UNIT_TEXT",
                "TLS_CERTIFICATE",
                "TLS_KEY",
                "VERIFY_TLS_PORT",
                "HTTPS_REDIRECT",
                "NGINX_WORKER_USER",
                ...ACME_OPTIONAL,
                ...ACME,
                "BOOTSTRAP_CONF",
                "BOOTSTRAP_CONFIG_ID",
                "ACME_RENEW_SCRIPT",
                "ACME_RENEW_VARIABLES",
                "ACME_SERVICE_UNIT_TEXT",
                "ACME_TIMER_UNIT_TEXT",
                "MAINTENANCE",
                "MAINTENANCE_PAGE",
                "RETIRED_HOSTS",
                "DRAIN_TOKEN",
                "BAKE_SECONDS",
                "BAKE_MAX_5XX_PERCENT",
                "BAKE_MAX_P99_MS",
                "BAKE_MIN_REQUESTS",
                "CANARY",
                "CANARY_HOSTS",
                "CANARY_VERSION",
                "CANARY_INSTANCES",
                "ROUTER_NAME",
                "CONFIRM_SECONDS",
            ],
        },
    ),
    /** Several routers: confirms one's switch once all have switched (its watchdog stops). */
    nginxConfirm: declare("nginx-confirm.sh", ["confirm-lib.sh"], {
        required: ["NGINX_PREFIX", "ROUTER_NAME", "ROUTERS"],
        optional: ["DRAIN_TOKEN"],
        triggers: ["SWITCHED"],
    }),
    /**
     * Renews the ACME certificate when due (installed on the nginx host as acme/renew by the switch,
     * with the switch's environment in acme/renew.env; run by its timer or by hand).
     */
    acmeRenew: declare("acme-renew.sh", ["nginx-lib.sh", "switch-lib.sh", "acme-lib.sh"], {
        required: [...NGINX, ...ACME, ...SWITCH_STATE, "HEALTH_INTERVAL_MS", "VERIFY_TLS_PORT"],
        optional: [
            NGINX_BIN,
            "SUPERVISOR",
            "NGINX_UNIT_TEXT",
            "NGINX_WORKER_USER",
            "HOST_HEADER",
            "HTTPS_REDIRECT",
            // switch-lib.sh's, for a certificate from config: never set here.
            "TLS_CERTIFICATE",
            "TLS_KEY",
            ...ACME_OPTIONAL,
        ],
    }),
    /** Runs a switch hook on one host of the pool going live, when a release goes live. */
    hookRun: declare("hook-run.sh", [], {
        required: [
            "HOOK",
            "HOOK_COMMAND",
            "HOOK_TIMEOUT_SECONDS",
            "HOOK_FAILURE",
            "HOST_NAME",
            "HOST_DIR",
            "RELEASE_ID",
            "APP_VERSION",
            "POOL_COLOR",
            "GOING_LIVE",
        ],
        optional: ["PREVIOUS_COLOR", "PREVIOUS_VERSION", "APP_USER"],
    }),
    /** In place of the hook when only its settings changed: it ran for this release already. */
    hookKept: declare("hook-kept.sh", [], { required: ["HOOK", "POOL_COLOR", "APP_VERSION"] }),
    /** Stops nginx gracefully (the router is deleted). */
    nginxStop: declare("nginx-stop.sh", ["nginx-lib.sh"], {
        required: [...NGINX, "SHUTDOWN_TIMEOUT_SECONDS"],
        optional: [NGINX_BIN, "SUPERVISOR", "NGINX_UNIT_TEXT"],
    }),
    /** The routers' floating address: keepalived's config, started or reloaded (floatingAddress.ts). */
    keepalived: declare("keepalived.sh", [], {
        required: ["BASE_DIR", "ROUTER_NAME", "KEEPALIVED_CONF", "VIRTUAL_ADDRESS"],
        optional: ["SUPERVISOR", "KEEPALIVED_UNIT_TEXT"],
    }),
    /** Stops a router's keepalived (virtualIp removed, or the router taken out). */
    keepalivedStop: declare("keepalived-stop.sh", [], { required: ["BASE_DIR", "ROUTER_NAME"] }),
    /** Before any change over SSH: the host answers, accepts the variables, has what its role needs. */
    checkHost: declare("remote/check-host.sh", ["nginx-modules.sh"], {
        required: ["HOST_NAME", "ROLE", "REMOTE_DIR", "SWITCH_MODE"],
        optional: [NGINX_BIN, "RUN_AS"],
        triggers: ["CHECK_TRIGGER"],
    }),
} as const;

export type AnyDeclaration = ScriptDeclaration<string, string, string>;

/** What both scripts of one resource take: create (and update) and delete share its environment. */
type BothInputs<C, D> = [D] extends [never] ? ScriptInputs<C> : ScriptInputs<C> & ScriptInputs<D>;

/**
 * A host script from declarations: `create` runs on create (and on update with `update: true`, or
 * the `update` script), `delete` when the resource goes; `environment` must give what both take.
 * A change of `triggers` replaces the resource: `create` runs again, whatever `update` is.
 */
export function hostScript<C extends AnyDeclaration, D extends AnyDeclaration = never>(spec: {
    readonly create: C;
    readonly update?: boolean | AnyDeclaration;
    readonly delete?: D;
    readonly deadlineSeconds?: number;
    readonly environment: BothInputs<C, D>;
    readonly triggers?: readonly pulumi.Input<string>[];
}): HostScript {
    const create = declaredScript(spec.create);
    return {
        create,
        update: spec.update === true ? create : spec.update ? declaredScript(spec.update) : undefined,
        delete: spec.delete ? declaredScript(spec.delete) : undefined,
        deadlineSeconds: spec.deadlineSeconds,
        environment: spec.environment as Record<string, pulumi.Input<string>>,
        ...(spec.triggers ? { triggers: spec.triggers } : {}),
    };
}

/** A declared script's text, its libraries in front: to run it directly (tests, the bench). */
export function declaredScript(declaration: AnyDeclaration): Script {
    return loadScript(declaration.file, declaration.libraries);
}

/** Plain inputs of a declared script as the environment it reads (BLUEGREEN_<NAME>). */
export function declaredEnvironment<D extends AnyDeclaration>(
    _declaration: D,
    inputs: ScriptInputs<D, string>,
): Record<string, string> {
    return Object.fromEntries(
        Object.entries(inputs as Record<string, string>).map(([name, value]) => [ENV_PREFIX + name, value]),
    );
}
