// The health gate: before the live config changes, every host of the pool that will be live
// must be ready. It runs on the nginx host (what nginx will reach), checks hosts in parallel,
// and runs again whenever the config it guards changes.
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./config";
import type { AppHost, HostsLayer } from "./hosts";
import { loadScript } from "./templates";

/** The hosts as the gate scripts take them: space-separated name=address:port. */
export function gateHostList(hosts: readonly AppHost[]): string {
    return hosts.map((h) => `${h.name}=${h.address}:${h.port}`).join(" ");
}

export interface HealthGateArgs {
    /** The pool that will be live after this update. */
    readonly color: Color;
    readonly hosts: readonly AppHost[];
    /** The version every host must report. */
    readonly version: string;
    readonly hostsLayer: HostsLayer;
    /** Id of the nginx config this gate guards: a new config means a new check. */
    readonly configId: string;
    readonly timeoutSeconds: number;
    readonly intervalMs: number;
    /** Host header of the checks: what nginx sends the apps ($host of a public request). */
    readonly hostHeader: pulumi.Input<string>;
    /** The pool's deploy commands: the gate checks only after they finished. */
    readonly after: readonly pulumi.Resource[];
}

export class HealthGate extends pulumi.ComponentResource {
    /** The check command: the switch depends on it. */
    readonly check: pulumi.Resource;

    constructor(name: string, args: HealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:HealthGate", name, {}, opts);
        const gate = loadScript("health-gate.sh", ["gate-lib.sh"]);
        this.check = args.hostsLayer.onRouter(
            `${name}-check`,
            {
                create: gate,
                update: gate,
                deadlineSeconds: args.timeoutSeconds + 60,
                environment: {
                    POOL_COLOR: args.color,
                    EXPECT_VERSION: args.version,
                    HOSTS: gateHostList(args.hosts),
                    CONFIG_ID: args.configId,
                    GATE_TIMEOUT_SECONDS: String(args.timeoutSeconds),
                    HEALTH_INTERVAL_MS: String(args.intervalMs),
                    GATE_HOST_HEADER: args.hostHeader,
                },
            },
            { parent: this, dependsOn: [...args.after, ...args.hostsLayer.reachable] },
        );
        this.registerOutputs({});
    }
}
