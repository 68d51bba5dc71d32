// A switch hook (preSwitchCommand, postSwitchCommand): the operator's command, run once when a
// release goes live, on the first host of the pool going live, in that release's directory.
// "Once" is the resource's identity: its triggers are the colour and release going live (and the
// command), so an update that changes neither runs nothing, and a retried switch whose hook ran
// already does not run it again.
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./config";
import { type HookName, type HookResult, type HookRun, parseHookResult } from "./hookResult";
import type { AppHost, HostsLayer, ScriptRun } from "./hosts";
import type { Release } from "./release";
import { SCRIPTS, hostScript } from "./scripts";

export interface SwitchHookArgs {
    readonly hook: HookName;
    readonly command: string;
    /** Where it runs: a host of the pool going live. */
    readonly host: AppHost;
    readonly color: Color;
    readonly release: Release;
    /** What was live before this update, if anything. */
    readonly previous?: { readonly color: Color; readonly version: string };
    /** This update makes `release` live (else the hook was only added or changed: it does not run). */
    readonly goingLive: boolean;
    readonly timeoutSeconds: number;
    readonly hostsLayer: HostsLayer;
    /** Its failure fails the update (pre-switch), or is a warning (post-switch). */
    readonly onFailure: "fail" | "warn";
    /** The runs the last successful update recorded: a result among them did not run in this update. */
    readonly recordedRuns: readonly HookRun[];
    readonly after: readonly pulumi.Resource[];
}

export class SwitchHook extends pulumi.ComponentResource {
    readonly run: ScriptRun;
    /** What the hook did in this update (or, unchanged, when its release went live). */
    readonly result: pulumi.Output<HookResult | undefined>;

    constructor(name: string, args: SwitchHookArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:index:SwitchHook", name, {}, opts);
        this.run = args.hostsLayer.onHost(
            `${name}-hook`,
            args.host,
            hostScript({
                create: SCRIPTS.hookRun,
                // A new script or timeout is no new release going live.
                update: SCRIPTS.hookKept,
                deadlineSeconds: args.timeoutSeconds + 60,
                triggers: [args.color, args.release.releaseId, args.command],
                environment: {
                    HOOK: args.hook,
                    HOOK_COMMAND: args.command,
                    HOOK_TIMEOUT_SECONDS: String(args.timeoutSeconds),
                    HOOK_FAILURE: args.onFailure,
                    HOST_NAME: args.host.name,
                    HOST_DIR: args.host.workDir,
                    RELEASE_ID: args.release.releaseId,
                    APP_VERSION: args.release.version,
                    POOL_COLOR: args.color,
                    GOING_LIVE: String(args.goingLive),
                    APP_USER: args.host.user,
                    ...(args.previous
                        ? { PREVIOUS_COLOR: args.previous.color, PREVIOUS_VERSION: args.previous.version }
                        : {}),
                },
            }),
            { parent: this, dependsOn: [...args.after, ...args.hostsLayer.reachable] },
        );
        // No output at all only where nothing ran (the unit tests' mocks).
        this.result = this.run.stdout.apply((out) => (out ? parseHookResult(out) : undefined));
        // The hook's own lines in the update's log, when it ran since the last successful update (a
        // command's output shows only when it fails; an unchanged one keeps its output in the state).
        pulumi.all([this.run.stdout, this.result]).apply(([out, result]) => {
            if (!result?.ran || args.recordedRuns.some((r) => r.hook === result.hook && r.ranAt === result.ranAt)) {
                return;
            }
            const lines = out.split("\n").filter((l) => l && !l.startsWith("bluegreen-hook "));
            if (result.exitStatus === 0) void pulumi.log.info(lines.join("\n"), this);
            else void pulumi.log.warn(lines.join("\n"), this);
        });
        this.registerOutputs({});
    }
}
