// The router (the nginx host): one switch command per update, so the rendered config and the
// live colour are its inputs and `pulumi preview --diff` shows what will change.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { AcmeConfig, Color, SwitchMode } from "./config";
import type { HealthGate } from "./healthGate";
import type { HostsLayer } from "./hosts";
import type { RenderedNginxConfig } from "./nginxConfig";
import { SCRIPTS, declaredScript, hostScript } from "./scripts";
import { parseSwitchResult } from "./switchResult";
import { render } from "./templates";
import { ACME_TIMEOUT_SECONDS, type SwitchTiming, confirmSeconds, switchDeadlineSeconds } from "./timing";

export interface RouterArgs {
    readonly hostsLayer: HostsLayer;
    readonly config: RenderedNginxConfig;
    readonly switchMode: SwitchMode;
    readonly liveColor: Color;
    /** URL of the public listener as the nginx host reaches it. */
    readonly verifyUrl: string;
    /** URL of the internal listener as the nginx host reaches it. */
    readonly internalUrl: string;
    /** Paths requested through the public listener after a switch. */
    readonly smokePaths: readonly string[];
    /** The bounds the switch's deadline, the confirmation window and nginx's graceful quit derive from. */
    readonly timing: SwitchTiming;
    /** The health gate: the switch runs after it passed, and checks again with its inputs right before it applies. */
    readonly gate: HealthGate;
    /**
     * HTTPS: the certificate and key (secrets) written beside the config on the nginx host, or the
     * ACME CA it obtains them from (with the config it serves until it has one); the HTTPS port.
     */
    readonly tls?: {
        readonly certificate:
            | { readonly certificate: pulumi.Output<string>; readonly key: pulumi.Output<string> }
            | {
                  readonly acme: AcmeConfig;
                  readonly hostNames: readonly string[];
                  readonly bootstrap: RenderedNginxConfig;
              };
        readonly port: number;
        /** Plain HTTP answers 308: the verification goes over HTTPS. */
        readonly redirect: boolean;
    };
    /**
     * Hosts this update removes from the pools ("name=address:port ..."), drained by the switch
     * right after the reload that stops sending them requests, with the drain token: their apps close
     * sockets and finish requests before nginx's old workers give up on them (worker_shutdown_timeout).
     */
    readonly retiring?: { readonly hosts: string; readonly drainToken: pulumi.Input<string> };
    /**
     * After a switch, the new colour's metrics are watched this long against the thresholds
     * (bake-lib.sh); over one, the previous colour goes back and the update fails.
     */
    readonly bake?: {
        readonly seconds: number;
        readonly max5xxPercent: number;
        readonly maxP99Ms: number;
        readonly minRequests: number;
    };
    /** The last update's lastSwitch output: a result that says the same is not this update's switch. */
    readonly previousLastSwitch?: string;
    /**
     * What earlier bakes said, as nginx's host kept them (where it could be asked): a result that
     * says one of them is not this update's bake.
     */
    readonly knownBakes?: readonly string[];
    /**
     * A canary: this share of clients goes to the idle colour, whose own gate the switch runs again
     * right before it sets the share. Absent: every client on the live colour.
     */
    readonly canary?: { readonly color: Color; readonly percent: number; readonly gate: HealthGate };
    /** Maintenance: the public listener answers the page (HTML), not the apps. */
    readonly maintenance: { readonly on: boolean; readonly page: string };
    /** Set when what nginx serves differs from what this update wants: forces the switch to run. */
    readonly reconcile: string;
    /** Each router's name in the last update, where it differs (formerRouterNames). */
    readonly formerNames?: Readonly<Record<string, string>>;
    /** Routers that went back on their own after an unconfirmed switch, with why: each one's switch runs again. */
    readonly wentBack?: Readonly<Record<string, string>>;
}

/** The certificate's half of the switch's environment: its text, or where the host gets it. */
function tlsEnvironment(
    certificate: NonNullable<RouterArgs["tls"]>["certificate"],
    hostsLayer: HostsLayer,
): Record<string, pulumi.Input<string>> {
    if (!("acme" in certificate)) return { TLS_CERTIFICATE: certificate.certificate, TLS_KEY: certificate.key };
    const { acme, hostNames, bootstrap } = certificate;
    return {
        ACME_DIRECTORY_URL: acme.directoryUrl,
        ACME_EMAIL: acme.email,
        ACME_RENEW_DAYS: String(acme.renewDays),
        ACME_TIMEOUT_SECONDS: String(ACME_TIMEOUT_SECONDS),
        ...(acme.caCertificate ? { ACME_CA_CERTIFICATE: acme.caCertificate } : {}),
        HOST_NAMES: hostNames.join(" "),
        BOOTSTRAP_CONF: bootstrap.text,
        BOOTSTRAP_CONFIG_ID: bootstrap.configId,
        // What the host runs to renew, by its timer or by hand: the same steps as here.
        ACME_RENEW_SCRIPT: declaredScript(SCRIPTS.acmeRenew).text,
        // acme/renew.env: the switch's values of what that script takes.
        ACME_RENEW_VARIABLES: [...SCRIPTS.acmeRenew.required, ...SCRIPTS.acmeRenew.optional].join(" "),
        // Where systemd runs, the timer that runs it.
        ACME_SERVICE_UNIT_TEXT: render("systemd/bluegreen-acme-renew.service.hbs", {
            prefix: hostsLayer.nginxPrefix,
            user: hostsLayer.nginxUser,
        }),
        ACME_TIMER_UNIT_TEXT: render("systemd/bluegreen-acme-renew.timer.hbs", {}),
    };
}

export class Router extends pulumi.ComponentResource {
    readonly liveColor: Color;
    readonly configId: string;
    /**
     * The switch's last steps: their success means nginx serves `liveColor` with this config, on
     * every router (the switch; with several routers, each one's confirmation).
     */
    readonly switched: readonly pulumi.Resource[];
    /** Resolves once every router switched and was confirmed (never, if any failed). */
    readonly done: pulumi.Output<string[]>;
    /** When the live colour last changed, and to which colour: "2026-11-26T08:21:55Z green". */
    readonly lastSwitch: pulumi.Output<string>;

    constructor(name: string, args: RouterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:Router", name, {}, opts);
        this.liveColor = args.liveColor;
        this.configId = args.config.configId;
        const routers = args.hostsLayer.routers;
        const several = routers.length > 1;
        const deadlineSeconds = switchDeadlineSeconds(args.timing);
        const environment = this.switchEnvironment(args);
        // Several routers: each switches (in parallel), then each is confirmed once all have. One
        // that is not confirmed in time (another router failed, the operator's machine went away)
        // goes back to what it served on its own: a switch never leaves the routers split.
        const switches = routers.map((router, i) =>
            args.hostsLayer.onRouter(
                `${name}-${router}`,
                hostScript({
                    create: SCRIPTS.nginxSwitch,
                    update: true,
                    delete: SCRIPTS.nginxStop,
                    deadlineSeconds,
                    environment: {
                        ...environment,
                        ...(several
                            ? {
                                  ROUTER_NAME: router,
                                  CONFIRM_SECONDS: String(confirmSeconds(args.timing)),
                                  ...(args.wentBack?.[router]
                                      ? {
                                            RECONCILE: [args.reconcile, `${router} went back: ${args.wentBack[router]}`]
                                                .filter(Boolean)
                                                .join("; "),
                                        }
                                      : {}),
                                  // Removed hosts are drained once: by the first router (its confirmation).
                                  ...(i > 0 ? { RETIRED_HOSTS: "", DRAIN_TOKEN: "" } : {}),
                              }
                            : {}),
                    },
                }),
                {
                    parent: this,
                    dependsOn: [
                        args.gate.check,
                        ...(args.canary ? [args.canary.gate.check] : []),
                        ...args.hostsLayer.reachable,
                        ...args.hostsLayer.routersReachable,
                    ],
                    // A router keeps its switch's history when routers are added or removed (formerNames).
                    aliases: args.formerNames?.[router] ? [{ name: `${name}-${args.formerNames[router]}` }] : [],
                },
                router,
            ),
        );
        const confirm = (router: string, drains: boolean, after: pulumi.Resource[]) =>
            args.hostsLayer.onRouter(
                `${name}-${router}-confirm`,
                hostScript({
                    create: SCRIPTS.nginxConfirm,
                    update: true,
                    environment: {
                        NGINX_PREFIX: args.hostsLayer.nginxPrefix,
                        ROUTER_NAME: router,
                        ROUTERS: routers.join(" "),
                        ...(drains && args.retiring ? { DRAIN_TOKEN: pulumi.secret(args.retiring.drainToken) } : {}),
                        // Runs again whenever any router's switch ran: each switch's output is new then.
                        SWITCHED: pulumi.all(switches.map((s) => s.stdout)).apply((outs) => hashOf(outs)),
                    },
                }),
                { parent: this, dependsOn: after },
                router,
            );
        // The first router's confirmation drains the removed hosts, so it comes last: a router that went
        // back on its own meanwhile (its confirmation fails) may send them requests again, and then none
        // is drained and the first router goes back too, at the end of its window.
        const others = several ? routers.slice(1).map((router) => confirm(router, false, switches)) : [];
        const confirmations = several ? [confirm(routers[0], true, [...switches, ...others]), ...others] : [];
        const first = switches[0];
        this.switched = several ? confirmations : switches;
        this.done = pulumi.all(this.switched.map((r) => r.urn));
        // No output at all only where nothing ran (the unit tests' mocks); any other output must carry the result.
        const switched = first.stdout.apply((out) => (out ? parseSwitchResult(out) : undefined));
        // Recorded once every router is confirmed.
        this.lastSwitch = pulumi.all([switched, this.done]).apply(([r]) => r?.lastSwitch ?? "unknown");
        // What the bake saw, in the update's log, once: by the update that baked (a switch, or a
        // canary's larger share, which leaves lastSwitch as it was).
        switched.apply((result) => {
            if (!result?.bake) return;
            const baked = args.knownBakes
                ? !args.knownBakes.includes(result.bake)
                : result.lastSwitch !== args.previousLastSwitch;
            if (baked) void pulumi.log.info(`Bake passed: ${result.bake}`, this);
        });
        this.registerOutputs({ lastSwitch: this.lastSwitch });
    }

    /** What every router's switch takes (the same on each). */
    private switchEnvironment(args: RouterArgs) {
        return {
            // The gate's inputs: the switch checks the pool again with them right before it applies.
            ...args.gate.environment,
            NGINX_PREFIX: args.hostsLayer.nginxPrefix,
            BASE_DIR: args.hostsLayer.baseDir,
            ...(args.hostsLayer.nginxWorkerUser ? { NGINX_WORKER_USER: args.hostsLayer.nginxWorkerUser } : {}),
            NGINX_CONF: args.config.text,
            CONFIG_ID: args.config.configId,
            SWITCH_MODE: args.switchMode,
            LIVE_COLOR: args.liveColor,
            VERIFY_URL: args.verifyUrl,
            INTERNAL_URL: args.internalUrl,
            SMOKE_PATHS: args.smokePaths.join(" "),
            VERIFY_TIMEOUT_SECONDS: String(args.timing.verifyTimeoutSeconds),
            // nginx's graceful quit when the router is deleted: then its fast stop (nothing else drains).
            SHUTDOWN_TIMEOUT_SECONDS: String(args.timing.shutdownTimeoutSeconds),
            RECONCILE: args.reconcile,
            ...(args.retiring
                ? { RETIRED_HOSTS: args.retiring.hosts, DRAIN_TOKEN: pulumi.secret(args.retiring.drainToken) }
                : {}),
            ...(args.bake
                ? {
                      BAKE_SECONDS: String(args.bake.seconds),
                      BAKE_MAX_5XX_PERCENT: String(args.bake.max5xxPercent),
                      BAKE_MAX_P99_MS: String(args.bake.maxP99Ms),
                      BAKE_MIN_REQUESTS: String(args.bake.minRequests),
                  }
                : {}),
            // "green 10", or off: what nginx's /bluegreen/canary holds once the switch is done.
            CANARY: args.canary ? `${args.canary.color} ${args.canary.percent}` : "off",
            ...(args.canary
                ? {
                      CANARY_HOSTS: args.canary.gate.environment.HOSTS,
                      CANARY_VERSION: args.canary.gate.environment.EXPECT_VERSION,
                      CANARY_INSTANCES: args.canary.gate.environment.INSTANCES,
                  }
                : {}),
            MAINTENANCE: args.maintenance.on ? "on" : "off",
            MAINTENANCE_PAGE: args.maintenance.page,
            SUPERVISOR: args.hostsLayer.supervisor,
            ...(args.tls
                ? {
                      ...tlsEnvironment(args.tls.certificate, args.hostsLayer),
                      VERIFY_TLS_PORT: String(args.tls.port),
                      ...(args.tls.redirect ? { HTTPS_REDIRECT: "true" } : {}),
                  }
                : {}),
            // Where systemd runs, nginx is started through this unit (enabled at boot).
            NGINX_UNIT_TEXT: render("systemd/bluegreen-nginx.service.hbs", {
                prefix: args.hostsLayer.nginxPrefix,
                user: args.hostsLayer.nginxUser,
                // systemd's own margin over nginx's graceful quit.
                stopTimeoutSeconds: args.timing.shutdownTimeoutSeconds + 5,
            }),
        };
    }
}

function hashOf(texts: readonly string[]): string {
    return createHash("sha256").update(JSON.stringify(texts)).digest("hex").slice(0, 16);
}
