// The health gate: before the live config changes, every host of the pool that will be live
// must be ready. It runs on the nginx host (what nginx will reach), checks hosts in parallel,
// and runs again whenever the config it guards changes. The switch checks again right before
// it applies, with the same inputs (`environment`).
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./config";
import type { AppHost, HostsLayer } from "./hosts";
import { SCRIPTS, type ScriptInputs, hostScript } from "./scripts";

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
    /** name=id of the hosts whose app echoes its instance id: only that process may answer. */
    readonly instances: pulumi.Input<string>;
    /** The pool's deploy commands: the gate checks only after they finished. */
    readonly after: readonly pulumi.Resource[];
}

export class HealthGate extends pulumi.ComponentResource {
    /** The check command: the switch depends on it. */
    readonly check: pulumi.Resource;
    /** What the gate checks, as gate-lib.sh takes it. */
    readonly environment: ScriptInputs<typeof SCRIPTS.healthGate>;
    readonly timeoutSeconds: number;

    constructor(name: string, args: HealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:HealthGate", name, {}, opts);
        this.timeoutSeconds = args.timeoutSeconds;
        this.environment = {
            POOL_COLOR: args.color,
            EXPECT_VERSION: args.version,
            HOSTS: gateHostList(args.hosts),
            CONFIG_ID: args.configId,
            GATE_TIMEOUT_SECONDS: String(args.timeoutSeconds),
            HEALTH_INTERVAL_MS: String(args.intervalMs),
            HOST_HEADER: args.hostHeader,
            INSTANCES: args.instances,
        };
        this.check = args.hostsLayer.onRouter(
            `${name}-check`,
            hostScript({
                create: SCRIPTS.healthGate,
                update: true,
                deadlineSeconds: args.timeoutSeconds + 60,
                environment: this.environment,
            }),
            { parent: this, dependsOn: [...args.after, ...args.hostsLayer.reachable] },
        );
        this.registerOutputs({});
    }
}
