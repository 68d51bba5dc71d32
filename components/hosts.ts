// The hosts layer: the only code that differs between targets. It says which hosts a pool
// has and how a script reaches a pool host or the nginx host. Pools, the gate and the router
// are written once against this interface.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Color } from "./config";
import type { Script } from "./templates";

export interface AppHost {
    /** Unique across both pools, e.g. blue-1. */
    readonly name: string;
    readonly color: Color;
    /** 1-based position in the pool. */
    readonly index: number;
    /** Address nginx (and the gate, which runs beside it) uses to reach the app. */
    readonly address: string;
    readonly port: number;
    /** Directory on the host holding its releases, pid file, log and drain token. */
    readonly workDir: string;
}

/** Scripts for a resource's lifecycle and their environment; the same shape for every target. */
export interface HostScript {
    readonly create: Script;
    readonly update?: Script;
    readonly delete?: Script;
    readonly environment: Record<string, pulumi.Input<string>>;
}

/**
 * The command resource's inputs for `script`: each script travels in an environment
 * variable and the command line only names it, so errors and logs show
 * `bash -c "$BLUEGREEN_ON_CREATE" deploy-host.sh`, not a page of shell, while
 * `pulumi preview --diff` still shows every changed script line.
 */
export function commandInputs(script: HostScript) {
    const phases = { create: script.create, update: script.update, delete: script.delete };
    const environment: Record<string, pulumi.Input<string>> = { ...script.environment };
    const commands: Partial<Record<keyof typeof phases, string>> = {};
    for (const [phase, s] of Object.entries(phases) as [keyof typeof phases, Script | undefined][]) {
        if (!s) continue;
        const variable = `BLUEGREEN_ON_${phase.toUpperCase()}`;
        environment[variable] = s.text;
        commands[phase] = `exec /bin/bash -c "$${variable}" ${s.name}`;
    }
    return { ...commands, environment };
}

/** What running a script leaves: a resource with the script's standard output. */
export type ScriptRun = pulumi.Resource & { readonly stdout: pulumi.Output<string> };

export interface HostsLayer {
    readonly target: "local" | "ssh" | "aws";
    poolHosts(color: Color, count: number): AppHost[];
    /** Runs a script on a pool host. */
    onHost(name: string, host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun;
    /** Runs a script on the nginx host. */
    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun;
    /** nginx's prefix directory on the nginx host. */
    readonly nginxPrefix: string;
    /** Address the nginx host itself uses to reach its own listeners. */
    readonly routerLoopback: string;
}

export interface LocalHostsArgs {
    /** Absolute directory for nginx's prefix and the app processes' files. */
    readonly stateDir: string;
    /** Blue host i listens on appBasePort+i, green host i on appBasePort+100+i. */
    readonly appBasePort: number;
}

/** Port offset between the blue and the green pool on the local target. */
export const LOCAL_GREEN_PORT_OFFSET = 100;

/**
 * The local target: every host is an app process on a loopback port of this machine, and
 * nginx runs here too, unprivileged, under its own prefix.
 */
export class LocalHosts implements HostsLayer {
    readonly target = "local" as const;
    readonly nginxPrefix: string;
    readonly routerLoopback = "127.0.0.1";

    constructor(private readonly args: LocalHostsArgs) {
        this.nginxPrefix = path.join(args.stateDir, "nginx");
    }

    poolHosts(color: Color, count: number): AppHost[] {
        const offset = color === "blue" ? 0 : LOCAL_GREEN_PORT_OFFSET;
        return Array.from({ length: count }, (_, i) => ({
            name: `${color}-${i + 1}`,
            color,
            index: i + 1,
            address: "127.0.0.1",
            port: this.args.appBasePort + offset + i + 1,
            workDir: path.join(this.args.stateDir, "pools", color, `host-${i + 1}`),
        }));
    }

    onHost(name: string, _host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return this.run(name, script, opts);
    }

    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return this.run(name, script, opts);
    }

    private run(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): command.local.Command {
        return new command.local.Command(name, { ...commandInputs(script), interpreter: ["/bin/sh", "-c"] }, opts);
    }
}
