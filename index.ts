// The program: read and validate config once, check the safety rules against what is
// deployed, then build the pools, the health gate and the router.
// Ordering inside one update comes from the graph: deploy → gate → switch → verify.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { COLORS, Color, ProgramConfig, loadConfig, otherColor } from "./components/config";
import { HealthGate } from "./components/healthGate";
import { AppHost, HostsLayer, LocalHosts } from "./components/hosts";
import { renderNginxConfig } from "./components/nginxConfig";
import { Pool } from "./components/pool";
import { Release, describeRelease } from "./components/release";
import { Router } from "./components/router";
import { DeployState, checkSafety, parseDeployState } from "./components/safety";

/** Relative paths in config are relative to the project directory. */
const PROJECT_DIR = __dirname;
/** How long nginx may take to serve a new config and pass the smoke checks. */
const VERIFY_TIMEOUT_SECONDS = 15;
/** Address of the internal listener: loopback only, never configurable. */
const INTERNAL_ADDRESS = "127.0.0.1";

function createHostsLayer(config: ProgramConfig): HostsLayer {
    switch (config.target) {
        case "local":
            return new LocalHosts({ stateDir: path.resolve(PROJECT_DIR, config.stateDir), appBasePort: config.appBasePort });
        case "ssh":
        case "aws":
            throw new pulumi.RunError(
                `bluegreen:target is ${config.target}, which is not implemented yet. Fix: pulumi config set target local`,
            );
        default: {
            const exhaustive: never = config.target;
            throw new Error(`unknown target ${String(exhaustive)}`);
        }
    }
}

/** What the last successful update deployed, from this stack's own outputs. */
async function previousDeployState(): Promise<DeployState | undefined> {
    const self = new pulumi.StackReference("previous-state", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const details = await self.getOutputDetails("deployState");
    return parseDeployState(details.value);
}

function releaseOf(config: ProgramConfig, color: Color): Release {
    const [version, artifact] = color === "blue" ? [config.blueVersion, config.blueArtifact] : [config.greenVersion, config.greenArtifact];
    try {
        return describeRelease(version, path.resolve(PROJECT_DIR, artifact), config.appStartCommand, `bluegreen:${color}Artifact`);
    } catch (err) {
        throw new pulumi.RunError((err as Error).message);
    }
}

function deployStateOf(liveColor: Color, releases: Record<Color, Release>, hosts: Record<Color, AppHost[]>): DeployState {
    const pool = (color: Color) => ({
        version: releases[color].version,
        releaseId: releases[color].releaseId,
        hosts: Object.fromEntries(hosts[color].map((h) => [h.name, `${h.address}:${h.port}`])),
    });
    return { liveColor, pools: { blue: pool("blue"), green: pool("green") } };
}

async function main() {
    const config = loadConfig();
    const live = config.activeColor;
    const hostsLayer = createHostsLayer(config);
    const hosts: Record<Color, AppHost[]> = {
        blue: hostsLayer.poolHosts("blue", config.blueHosts),
        green: hostsLayer.poolHosts("green", config.greenHosts),
    };
    const releases: Record<Color, Release> = { blue: releaseOf(config, "blue"), green: releaseOf(config, "green") };
    const deployState = deployStateOf(live, releases, hosts);

    const problems = checkSafety(await previousDeployState(), deployState);
    if (problems.length > 0) {
        throw new pulumi.RunError(problems.length === 1 ? problems[0] : `Refused:\n  - ${problems.join("\n  - ")}`);
    }

    const pools = Object.fromEntries(
        COLORS.map((color) => [
            color,
            new Pool(color, {
                color,
                hosts: hosts[color],
                release: releases[color],
                hostsLayer,
                drainToken: config.drainToken,
                readyTimeoutSeconds: config.gateTimeoutSeconds,
                drainTimeoutSeconds: config.drainTimeoutSeconds,
                healthIntervalMs: config.healthIntervalMs,
            }),
        ]),
    ) as Record<Color, Pool>;

    const nginxConfig = renderNginxConfig({
        prefix: hostsLayer.nginxPrefix,
        switchMode: config.switchMode,
        liveColor: live,
        pools: hosts,
        publicAddress: config.publicAddress,
        publicPort: config.publicPort,
        internalAddress: INTERNAL_ADDRESS,
        internalPort: config.internalPort,
        workerShutdownTimeoutSeconds: config.drainTimeoutSeconds + 5,
    });

    const gate = new HealthGate("gate", {
        color: live,
        hosts: hosts[live],
        version: releases[live].version,
        hostsLayer,
        configId: nginxConfig.configId,
        timeoutSeconds: config.gateTimeoutSeconds,
        intervalMs: config.healthIntervalMs,
        after: pools[live].deployments,
    });

    const verifyAddress = config.publicAddress === "0.0.0.0" ? hostsLayer.routerLoopback : config.publicAddress;
    const router = new Router("router", {
        hostsLayer,
        config: nginxConfig,
        switchMode: config.switchMode,
        liveColor: live,
        verifyUrl: `http://${verifyAddress}:${config.publicPort}`,
        internalUrl: `http://${INTERNAL_ADDRESS}:${config.internalPort}`,
        smokePaths: config.smokePaths,
        verifyTimeoutSeconds: VERIFY_TIMEOUT_SECONDS,
        intervalMs: config.healthIntervalMs,
        shutdownTimeoutSeconds: config.drainTimeoutSeconds + 5,
        gate: gate.check,
        // The idle pool's hosts appear on the internal listener: deploy them first.
    }, { dependsOn: pools[otherColor(live)].deployments });

    // Outputs are recorded only when the whole update succeeded, so `deployState` always
    // describes what nginx and the pools really run (the safety rules read it next time).
    const switched = pulumi.output(router.nginx.urn).apply(() => deployState);
    return {
        activeColor: live,
        liveVersion: releases[live].version,
        standbyVersion: releases[otherColor(live)].version,
        publicUrl: `http://${config.publicAddress}:${config.publicPort}`,
        internalUrl: `http://${INTERNAL_ADDRESS}:${config.internalPort}`,
        pools: Object.fromEntries(
            COLORS.map((color) => [color, { version: releases[color].version, hosts: hosts[color].map((h) => `${h.address}:${h.port}`) }]),
        ),
        lastSwitch: router.lastSwitch,
        deployState: switched,
    };
}

/**
 * Exit code with which the Pulumi Node.js runtime says "the program failed and already told
 * the user why" (the language host then prints nothing more).
 */
const EXIT_AFTER_USER_MESSAGE = 32;

// A refusal (bad config, a safety rule) is a message for the operator, not a crash: log it
// and end the program before anything is registered. Exiting matters: a rejected async
// program takes the Node.js runtime about 20 s to wind down, and returning normally would
// make the engine delete every resource this run did not register.
export = async () => {
    try {
        return await main();
    } catch (err) {
        if (!pulumi.RunError.isInstance(err)) throw err;
        await pulumi.log.error(err.message);
        return process.exit(EXIT_AFTER_USER_MESSAGE);
    }
};
