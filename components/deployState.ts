// What an update deploys, and what the last successful one did: the stack's own outputs,
// which the safety rules compare.
import * as pulumi from "@pulumi/pulumi";
import { COLORS, type Color, type ProgramConfig, poolRelease } from "./config";
import type { AppHost } from "./hosts";
import { resolvedPath } from "./projectPath";
import { type Release, describeRelease } from "./release";
import { type DeployState, parseDeployState } from "./safety";

/**
 * The last successful update's outputs. Read with the engine's own function rather than a
 * StackReference: that would be a resource whose every output `pulumi preview --diff` prints.
 */
export async function previousOutputs(): Promise<Record<string, unknown>> {
    const read = await pulumi.runtime.invoke("pulumi:pulumi:readStackOutputs", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    return (read?.outputs ?? {}) as Record<string, unknown>;
}

/** A string output of the last update, if it has one. */
export function stringOutput(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** "name=id ..." of the instances the last update's deploys started in `color` ("" if none recorded). */
export function recordedInstances(outputs: Record<string, unknown>, color: Color): string {
    const instances = outputs.instances;
    if (typeof instances !== "object" || instances === null) return "";
    const value = (instances as Record<string, unknown>)[color];
    // Validated as deploy-host.sh reports them: anything else demands nothing.
    return typeof value === "string" && /^([a-z]+-\d+=[0-9a-f]+ ?)*$/.test(value) ? value : "";
}

/** What the last successful update deployed, from its outputs. */
export function previousDeployState(outputs: Record<string, unknown>): DeployState | undefined {
    if (outputs.deployState === undefined) return undefined;
    const state = parseDeployState(outputs);
    if (!state) {
        // Fail closed: without it, nothing would protect the live pool.
        throw new pulumi.RunError(
            "the stack's deployState output (what the last update deployed) cannot be read, so the safety " +
                "rules cannot be checked. Fix: restore it from `pulumi stack history`, or if the stack was " +
                "imported, run one update with the live pool's settings unchanged.",
        );
    }
    return state;
}

/** Each pool's release; an unchanged one keeps the id it was deployed with. */
export function releasesOf(config: ProgramConfig, previous: DeployState | undefined): Record<Color, Release> {
    const releaseOf = (color: Color): Release => {
        const { version, artifact } = poolRelease(config, color);
        const before = previous?.pools[color];
        const same =
            before &&
            before.version === version &&
            before.artifact === artifact &&
            before.startCommand === config.appStartCommand;
        try {
            return describeRelease(
                version,
                resolvedPath(`${color}Artifact`, artifact),
                config.appStartCommand,
                `bluegreen:${color}Artifact`,
                same ? before.releaseId : undefined,
            );
        } catch (err) {
            throw pulumi.RunError.isInstance(err) ? err : new pulumi.RunError((err as Error).message);
        }
    };
    return { blue: releaseOf("blue"), green: releaseOf("green") };
}

/** What this update deploys, as the safety rules and the next update read it. */
export function deployStateOf(
    config: ProgramConfig,
    releases: Record<Color, Release>,
    hosts: Record<Color, readonly AppHost[]>,
): DeployState {
    const pool = (color: Color) => ({
        version: releases[color].version,
        releaseId: releases[color].releaseId,
        artifact: poolRelease(config, color).artifact,
        startCommand: config.appStartCommand,
        hosts: Object.fromEntries(hosts[color].map((h) => [h.name, `${h.address}:${h.port}`])),
    });
    return {
        liveColor: config.activeColor,
        pools: Object.fromEntries(COLORS.map((color) => [color, pool(color)])) as DeployState["pools"],
        ...(config.canaryPercent > 0 ? { canaryPercent: config.canaryPercent } : {}),
    };
}
