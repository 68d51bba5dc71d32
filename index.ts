// The program: read and validate config once, check the safety rules against what is
// deployed, then build the pools, the health gate and the router.
// Ordering inside one update comes from the graph: deploy → gate → switch → verify.
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { COLORS, Color, HTTPS_PORT, ProgramConfig, loadConfig, otherColor } from "./components/config";
import { HealthGate, gateHostList } from "./components/healthGate";
import { AppHost, HostsLayer, LocalHosts } from "./components/hosts";
import { SshHosts, checkAgentSocket } from "./components/sshHosts";
import { NginxConfigInput, renderNginxConfig, renderedSettings } from "./components/nginxConfig";
import { Pool } from "./components/pool";
import { Release, describeRelease } from "./components/release";
import { Router } from "./components/router";
import { PROJECT_DIR } from "./components/templates";
import { observeNginx, reconcileReason } from "./components/observe";
import { describePlan } from "./components/plan";
import { DeployState, checkSafety, parseDeployState, recordedOutputs } from "./components/safety";

/** How long nginx may take to serve a new config and pass the smoke checks. */
const VERIFY_TIMEOUT_SECONDS = 15;
/** Address of the internal listener: loopback only, never configurable. */
const INTERNAL_ADDRESS = "127.0.0.1";
/** Paths that reach nginx config or scripts must stay within this alphabet (no space, quote, ;). */
const SAFE_PATH = /^[A-Za-z0-9._\/-]+$/;

/** A config path made absolute, checked again: the project's own location becomes part of it. */
function resolvedPath(configKey: string, value: string): string {
    const absolute = path.resolve(PROJECT_DIR, value);
    if (!SAFE_PATH.test(absolute)) {
        throw new pulumi.RunError(
            `bluegreen:${configKey} resolves to ${JSON.stringify(absolute)}, which contains characters that cannot go into nginx config or a script ` +
                `(only letters, digits, . _ / -). Fix: move the project to such a path, or set ${configKey} to an absolute path like /var/lib/bluegreen`,
        );
    }
    return absolute;
}

async function createHostsLayer(config: ProgramConfig): Promise<HostsLayer> {
    switch (config.target) {
        case "local":
            return new LocalHosts({
                stateDir: resolvedPath("stateDir", config.stateDir),
                appBasePort: config.appBasePort,
                hostCounts: { blue: config.blueHosts, green: config.greenHosts },
            });
        case "ssh":
            await checkAgentSocket();
            return new SshHosts({
                nginx: config.nginxSshHost,
                pools: { blue: config.blueSshHosts, green: config.greenSshHosts },
                defaultUser: config.sshUser,
                privateKey: config.sshPrivateKey,
                appPort: config.appPort,
                remoteDir: config.remoteDir,
                dialAttempts: config.sshDialAttempts,
                dialTimeoutSeconds: config.sshDialTimeoutSeconds,
                supervisor: config.supervisor,
                switchMode: config.switchMode,
            });
        case "aws":
            await checkAgentSocket();
            // Loaded only here: @pulumi/aws takes about 0.15 s to load, on every run.
            return (await import("./components/awsHosts")).createAwsHosts(config);
        default: {
            const exhaustive: never = config.target;
            throw new Error(`unknown target ${String(exhaustive)}`);
        }
    }
}

/**
 * What the last successful update deployed, from this stack's own outputs. Read with the
 * engine's own function rather than a StackReference: that would be a resource whose every
 * output `pulumi preview --diff` prints, and one more step for every update.
 */
async function previousDeployState(): Promise<DeployState | undefined> {
    const read = await pulumi.runtime.invoke("pulumi:pulumi:readStackOutputs", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const outputs = (read?.outputs ?? {}) as Record<string, unknown>;
    if (outputs.deployState === undefined) return undefined;
    const state = parseDeployState(outputs);
    if (!state) {
        // Fail closed: without it, nothing would protect the live pool.
        throw new pulumi.RunError(
            "the stack's deployState output (what the last update deployed) cannot be read, so the safety rules cannot be checked. " +
                "Fix: restore it from `pulumi stack history`, or if the stack was imported, run one update with the live pool's settings unchanged.",
        );
    }
    return state;
}

function releaseOf(config: ProgramConfig, color: Color, previous: DeployState | undefined): Release {
    const [version, artifact] =
        color === "blue" ? [config.blueVersion, config.blueArtifact] : [config.greenVersion, config.greenArtifact];
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
}

function deployStateOf(
    config: ProgramConfig,
    releases: Record<Color, Release>,
    hosts: Record<Color, AppHost[]>,
): DeployState {
    const pool = (color: Color) => ({
        version: releases[color].version,
        releaseId: releases[color].releaseId,
        artifact: color === "blue" ? config.blueArtifact : config.greenArtifact,
        startCommand: config.appStartCommand,
        hosts: Object.fromEntries(hosts[color].map((h) => [h.name, `${h.address}:${h.port}`])),
    });
    return { liveColor: config.activeColor, pools: { blue: pool("blue"), green: pool("green") } };
}

async function main() {
    const config = loadConfig();
    const live = config.activeColor;
    const hostsLayer = await createHostsLayer(config);
    const hosts: Record<Color, AppHost[]> = {
        blue: hostsLayer.poolHosts("blue"),
        green: hostsLayer.poolHosts("green"),
    };
    const previous = await previousDeployState();
    const releases: Record<Color, Release> = {
        blue: releaseOf(config, "blue", previous),
        green: releaseOf(config, "green", previous),
    };
    const internalUrl = `http://${INTERNAL_ADDRESS}:${config.internalPort}`;

    const recorded = deployStateOf(config, releases, hosts);

    // Ask nginx what it serves (where the program runs beside it): the records may be stale.
    const observed = hostsLayer.target === "local" ? await observeNginx(internalUrl) : undefined;
    const problems = checkSafety(previous, recorded, observed?.live);
    if (problems.length > 0) {
        throw new pulumi.RunError(problems.length === 1 ? problems[0] : `Refused:\n  - ${problems.join("\n  - ")}`);
    }

    const nginxInput: NginxConfigInput = {
        prefix: hostsLayer.nginxPrefix,
        switchMode: config.switchMode,
        liveColor: live,
        pools: hosts,
        publicAddress: config.publicAddress,
        publicPort: config.publicPort,
        internalAddress: INTERNAL_ADDRESS,
        internalPort: config.internalPort,
        workerShutdownTimeoutSeconds: config.drainTimeoutSeconds + 5,
        privatePaths: config.privatePaths,
        tls: config.tls ? { port: HTTPS_PORT, fingerprint: config.tls.fingerprint } : undefined,
    };
    const nginxConfig = renderNginxConfig(nginxInput);
    const nginxSettings = renderedSettings(nginxInput);
    const deployState: DeployState = { ...recorded, configId: nginxConfig.configId, nginx: nginxSettings };
    const reconcile = reconcileReason(observed, previous, { liveColor: live, configId: nginxConfig.configId });
    if (reconcile) void pulumi.log.warn(`${reconcile}: the switch will run again to make nginx agree.`);
    void pulumi.log.info(describePlan({ previous, served: observed, next: deployState, reconcile }));

    // Every host is checked before a deploy changes any of them.
    hostsLayer.checkReachable(
        createHash("sha256").update(JSON.stringify(deployState.pools)).digest("hex").slice(0, 16),
    );

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

    const gate = new HealthGate("gate", {
        color: live,
        hosts: hosts[live],
        version: releases[live].version,
        hostsLayer,
        configId: nginxConfig.configId,
        timeoutSeconds: config.gateTimeoutSeconds,
        intervalMs: config.healthIntervalMs,
        hostHeader: hostsLayer.publicHost(config.publicAddress),
        after: pools[live].deployments,
    });

    const verifyAddress = config.publicAddress === "0.0.0.0" ? hostsLayer.routerLoopback : config.publicAddress;
    const router = new Router(
        "router",
        {
            hostsLayer,
            config: nginxConfig,
            switchMode: config.switchMode,
            liveColor: live,
            verifyUrl: `http://${verifyAddress}:${config.publicPort}`,
            internalUrl,
            smokePaths: config.smokePaths,
            verifyTimeoutSeconds: VERIFY_TIMEOUT_SECONDS,
            intervalMs: config.healthIntervalMs,
            shutdownTimeoutSeconds: config.drainTimeoutSeconds + 5,
            gate: gate.check,
            liveHosts: gateHostList(hosts[live]),
            liveVersion: releases[live].version,
            gateTimeoutSeconds: config.gateTimeoutSeconds,
            gateHostHeader: hostsLayer.publicHost(config.publicAddress),
            tls: config.tls,
            reconcile,
            // The idle pool's hosts appear on the internal listener: deploy them first.
        },
        { dependsOn: pools[otherColor(live)].deployments },
    );

    // Outputs are recorded only when the whole update succeeded, so `deployState` and `nginx`
    // always describe what the pools and nginx really run (the safety rules read them next time).
    const recordedAfterSwitch = pulumi.output(router.nginx.urn).apply(() => recordedOutputs(deployState));
    return {
        activeColor: live,
        liveVersion: releases[live].version,
        standbyVersion: releases[otherColor(live)].version,
        publicUrl: pulumi.interpolate`http://${hostsLayer.publicHost(config.publicAddress)}:${config.publicPort}`,
        internalUrl,
        pools: Object.fromEntries(
            COLORS.map((color) => [
                color,
                { version: releases[color].version, hosts: hosts[color].map((h) => `${h.address}:${h.port}`) },
            ]),
        ),
        lastSwitch: router.lastSwitch,
        deployState: recordedAfterSwitch.deployState,
        nginx: recordedAfterSwitch.nginx,
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
