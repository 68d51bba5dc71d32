// The router (the nginx host): applies one nginx config rendered from templates/ with both
// pools, and the live colour, with nginx-switch.sh (atomic write, nginx -t, reload only when
// the config changed, the colour set without a reload in no-reload mode, verify, restore on
// failure). The rendered config and the live colour are inputs of the switch command, so
// `pulumi preview --diff` shows what will change.
import * as pulumi from "@pulumi/pulumi";
import type { Color, SwitchMode } from "./config";
import type { HostsLayer, ScriptRun } from "./hosts";
import type { RenderedNginxConfig } from "./nginxConfig";
import { loadScript, render } from "./templates";

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
    readonly verifyTimeoutSeconds: number;
    readonly intervalMs: number;
    /** Bound on graceful shutdown when the router is deleted. */
    readonly shutdownTimeoutSeconds: number;
    /** The health gate: the switch runs only after it passed. */
    readonly gate: pulumi.Resource;
    /** The pool going live, checked again by the switch itself right before it applies. */
    readonly liveHosts: string;
    readonly liveVersion: string;
    readonly gateTimeoutSeconds: number;
    /** TLS certificate and key (secrets), written beside the config on the nginx host. */
    readonly tls?: { readonly certificate: pulumi.Output<string>; readonly key: pulumi.Output<string> };
    /** Host header of the gate's checks (see HealthGate). */
    readonly gateHostHeader: pulumi.Input<string>;
    /** Set when what nginx serves differs from what this update wants: forces the switch to run. */
    readonly reconcile: string;
}

export class Router extends pulumi.ComponentResource {
    readonly liveColor: Color;
    readonly configId: string;
    /** The switch command: its success means nginx serves `liveColor` with this config. */
    readonly nginx: ScriptRun;
    /** When the live colour last changed, and to which colour: "2026-11-26T08:21:55Z green". */
    readonly lastSwitch: pulumi.Output<string>;

    constructor(name: string, args: RouterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:Router", name, {}, opts);
        this.liveColor = args.liveColor;
        this.configId = args.config.configId;
        const switchScript = loadScript("nginx-switch.sh", ["nginx-lib.sh", "nginx-modules.sh", "gate-lib.sh"]);
        this.nginx = args.hostsLayer.onRouter(
            `${name}-nginx`,
            {
                create: switchScript,
                update: switchScript,
                delete: loadScript("nginx-stop.sh", ["nginx-lib.sh"]),
                // Re-check, reload, old workers' retirement (bounded by the shutdown timeout), verify.
                deadlineSeconds:
                    args.gateTimeoutSeconds + args.verifyTimeoutSeconds + args.shutdownTimeoutSeconds + 120,
                environment: {
                    NGINX_PREFIX: args.hostsLayer.nginxPrefix,
                    NGINX_CONF: args.config.text,
                    CONFIG_ID: args.config.configId,
                    SWITCH_MODE: args.switchMode,
                    LIVE_COLOR: args.liveColor,
                    VERIFY_URL: args.verifyUrl,
                    INTERNAL_URL: args.internalUrl,
                    SMOKE_PATHS: args.smokePaths.join(" "),
                    VERIFY_TIMEOUT_SECONDS: String(args.verifyTimeoutSeconds),
                    HEALTH_INTERVAL_MS: String(args.intervalMs),
                    SHUTDOWN_TIMEOUT_SECONDS: String(args.shutdownTimeoutSeconds),
                    POOL_COLOR: args.liveColor,
                    HOSTS: args.liveHosts,
                    EXPECT_VERSION: args.liveVersion,
                    GATE_TIMEOUT_SECONDS: String(args.gateTimeoutSeconds),
                    GATE_HOST_HEADER: args.gateHostHeader,
                    RECONCILE: args.reconcile,
                    SUPERVISOR: args.hostsLayer.supervisor,
                    ...(args.tls ? { TLS_CERTIFICATE: args.tls.certificate, TLS_KEY: args.tls.key } : {}),
                    // Where systemd runs, nginx is started through this unit (enabled at boot).
                    NGINX_UNIT_TEXT: render("systemd/bluegreen-nginx.service.hbs", {
                        prefix: args.hostsLayer.nginxPrefix,
                        stopTimeoutSeconds: args.shutdownTimeoutSeconds + 5,
                    }),
                },
            },
            { parent: this, dependsOn: [args.gate, ...args.hostsLayer.reachable] },
        );
        this.lastSwitch = this.nginx.stdout.apply((out) => /^last-switch: (.*)$/m.exec(out ?? "")?.[1] ?? "unknown");
        this.registerOutputs({ lastSwitch: this.lastSwitch });
    }
}
