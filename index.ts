// The program: read and validate config once, check the safety rules against what is
// deployed, then build the pools, the health gate and the router.
// Ordering inside one update comes from the graph: deploy → gate → switch → verify.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { COLORS, type Color, loadConfig, otherColor } from "./components/config";
import {
    deployStateOf,
    previousDeployState,
    previousOutputs,
    recordedInstances,
    releasesOf,
    stringOutput,
} from "./components/deployState";
import { recordedBakes, withBakes } from "./components/bakeRecord";
import { FloatingAddress } from "./components/floatingAddress";
import { HealthGate } from "./components/healthGate";
import { type HookName, recordedHookRuns, withHookRuns } from "./components/hookResult";
import { type AppHost, type HostsLayer, LOOPBACK, formerRouterNames, listenerAddress } from "./components/hosts";
import { acmeBootstrapInput, nginxConfigInput, renderNginxConfig, renderedSettings } from "./components/nginxConfig";
import { foreignProcesses, reconcileReason } from "./components/observe";
import { describePlan } from "./components/plan";
import { Pool } from "./components/pool";
import { Router } from "./components/router";
import { type DeployState, checkSafety, recordedOutputs } from "./components/safety";
import { SwitchHook } from "./components/switchHook";
import { createHostsLayer } from "./components/targets";
import { switchTiming } from "./components/timing";
import { sshRouters, virtualIpOf } from "./components/targets/ssh/config";

/** Address of the internal listener: loopback only, never configurable. */
const INTERNAL_ADDRESS = LOOPBACK;

async function main() {
    const config = loadConfig();
    const live = config.activeColor;
    const hostsLayer = await createHostsLayer(config);
    const hosts: Record<Color, AppHost[]> = {
        blue: hostsLayer.poolHosts("blue"),
        green: hostsLayer.poolHosts("green"),
    };
    const lastOutputs = await previousOutputs();
    const previous = previousDeployState(lastOutputs);
    const releases = releasesOf(config, previous);
    const internalUrl = `http://${INTERNAL_ADDRESS}:${config.internalPort}`;

    const recorded = deployStateOf(config, releases, hosts);

    // Ask nginx what it serves, and who answers each host, where the program can: the records
    // may be stale, and nginx cannot tell the deployed app from another process on its port.
    // Every router is asked (at once); the first one's answer stands for the routers' where one is
    // needed (the safety rules, the bakes), and any router that differs is drift.
    const routers = hostsLayer.routers;
    const lastLogins = lastLoginAddresses(lastOutputs);
    const loginAddresses = hostsLayer.routerLoginAddresses ?? {};
    const formerNames = formerRouterNames(
        routers.map((name) => {
            const address = loginAddresses[name];
            return { name, address: typeof address === "string" ? address : undefined };
        }),
        lastLogins,
    );
    const observedRouters = await Promise.all(
        routers.map((router) =>
            hostsLayer.observeNginx(
                {
                    internalUrl,
                    hosts: [...hosts.blue, ...hosts.green],
                    hostHeader: config.hostNames[0],
                    lastLoginAddress: lastLogins[router] ?? lastLogins[formerNames[router] ?? ""],
                },
                router,
            ),
        ),
    );
    const observed = observedRouters[0];
    const servedLive = observed?.live ?? previous?.liveColor;
    // The canary nginx runs now, where it could be asked, protects its pool as the records would.
    const served =
        previous && observed?.running
            ? { ...previous, canaryPercent: observed.canaryPercent ?? previous.canaryPercent }
            : previous;
    const problems = [
        ...checkSafety(served, recorded, observed?.live),
        ...(servedLive
            ? foreignProcesses(observed, hosts[servedLive], recordedInstances(lastOutputs, servedLive))
            : []),
    ];
    if (problems.length > 0) {
        throw new pulumi.RunError(problems.length === 1 ? problems[0] : `Refused:\n  - ${problems.join("\n  - ")}`);
    }

    const timing = switchTiming(config, routers.length);
    const nginxInput = nginxConfigInput(
        config,
        hostsLayer.nginxPrefix,
        hosts,
        INTERNAL_ADDRESS,
        timing,
        hostsLayer.nginxWorkerUser,
    );
    const nginxConfig = renderNginxConfig(nginxInput);
    const nginxSettings = renderedSettings(nginxInput);
    const deployState: DeployState = { ...recorded, configId: nginxConfig.configId, nginx: nginxSettings };
    const desired = { liveColor: live, configId: nginxConfig.configId, canaryPercent: config.canaryPercent };
    const reconcile = routers
        .map((router, i) => {
            const reason = reconcileReason(observedRouters[i], previous, desired);
            return reason && routers.length > 1 ? `${router}: ${reason}` : reason;
        })
        .filter(Boolean)
        .join("; ");
    if (reconcile) void pulumi.log.warn(`${reconcile}: the switch will run again to make nginx agree.`);
    routers.forEach((router, i) => {
        const why = observedRouters[i]?.wentBack;
        if (why) void pulumi.log.warn(`${router} went back: ${why}; its switch runs again.`);
    });
    // A release goes live (the hooks run): the recorded live colour or its release differs, or this
    // is the stack's first update. A switch made again only because nginx drifted runs no hook (its
    // resource's triggers, the colour and release, are those recorded).
    const goingLive =
        !previous || previous.liveColor !== live || previous.pools[live].releaseId !== releases[live].releaseId;
    const hooksToRun = goingLive
        ? [
              ...(config.preSwitchCommand ? [`pre-switch hook on ${hosts[live][0].name}`] : []),
              ...(config.postSwitchCommand ? [`post-switch hook on ${hosts[live][0].name}`] : []),
          ]
        : [];
    void pulumi.log.info(describePlan({ previous, served: observed, next: deployState, reconcile, hooks: hooksToRun }));

    // Every host is checked before a deploy changes any of them.
    // Several routers are all checked whenever the switch runs, before any of them changes.
    const hashOf = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16);
    hostsLayer.checkReachable(
        hashOf(deployState.pools),
        hashOf({ ...desired, reconcile, deployState, maintenance: config.maintenance }),
    );

    // What every check sends as Host: the primary name, or what clients of an unnamed listener use.
    const hostHeader = config.hostNames[0] ?? hostsLayer.publicHost(config.publicAddress);

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
                // Only where apps check Host: an unset one leaves the deploys as they were.
                hostHeader: config.hostNames[0],
            }),
        ]),
    ) as Record<Color, Pool>;

    const gateOf = (name: string, color: Color) =>
        new HealthGate(name, {
            color,
            hosts: hosts[color],
            version: releases[color].version,
            hostsLayer,
            configId: nginxConfig.configId,
            timeoutSeconds: config.gateTimeoutSeconds,
            intervalMs: config.healthIntervalMs,
            hostHeader,
            instances: pools[color].instances,
            after: pools[color].deployments,
        });
    const gate = gateOf("gate", live);
    // A canary sends clients to the idle pool: it is gated as the live one is.
    const idle = otherColor(live);
    const canary =
        config.canaryPercent > 0
            ? { color: idle, percent: config.canaryPercent, gate: gateOf("canary-gate", idle) }
            : undefined;

    // Hooks run on the first host of the pool going live, when a release goes live (goingLive).
    const recordedRuns = recordedHookRuns(lastOutputs.hookRuns);
    const hook = (name: HookName, command: string, onFailure: "fail" | "warn", after: pulumi.Resource[]) =>
        new SwitchHook(name, {
            hook: name,
            command,
            host: hosts[live][0],
            color: live,
            release: releases[live],
            previous:
                previous && servedLive ? { color: servedLive, version: previous.pools[servedLive].version } : undefined,
            goingLive,
            timeoutSeconds: config.hookTimeoutSeconds,
            hostsLayer,
            onFailure,
            recordedRuns,
            after,
        });
    // After the gate, before traffic moves: its failure leaves traffic where it was.
    const preSwitch = config.preSwitchCommand
        ? hook("pre-switch", config.preSwitchCommand, "fail", [gate.check])
        : undefined;

    // Hosts the last update had and this one does not: the switch drains them (their deletes come last).
    const retired = COLORS.flatMap((color) =>
        Object.entries(previous?.pools[color].hosts ?? {})
            .filter(([name]) => !(name in deployState.pools[color].hosts))
            .map(([name, address]) => `${name}=${address}`),
    ).join(" ");

    // The idle pool's hosts appear on the internal listener: the router waits for their deploys.
    const router = new Router(
        "router",
        {
            hostsLayer,
            config: nginxConfig,
            switchMode: config.switchMode,
            liveColor: live,
            verifyUrl: `http://${listenerAddress(config.publicAddress)}:${config.publicPort}`,
            internalUrl,
            smokePaths: config.smokePaths,
            timing,
            gate,
            tls: config.tls
                ? {
                      certificate:
                          config.tls.source === "acme"
                              ? {
                                    acme: config.tls.acme,
                                    hostNames: config.hostNames,
                                    bootstrap: renderNginxConfig(acmeBootstrapInput(nginxInput)),
                                }
                              : config.tls,
                      port: config.httpsPort,
                      redirect: config.httpsRedirect,
                  }
                : undefined,
            maintenance: { on: config.maintenance, page: config.maintenancePageHtml },
            canary,
            ...(config.bakeSeconds > 0
                ? {
                      bake: {
                          seconds: config.bakeSeconds,
                          max5xxPercent: config.bakeMax5xxPercent,
                          maxP99Ms: config.bakeMaxP99Ms,
                          minRequests: config.bakeMinRequests,
                      },
                  }
                : {}),
            previousLastSwitch: stringOutput(lastOutputs.lastSwitch),
            knownBakes: observed?.running ? (observed.bakes ?? []).map((bake) => bake.summary) : undefined,
            ...(retired ? { retiring: { hosts: retired, drainToken: config.drainToken } } : {}),
            reconcile,
            formerNames,
            // A router that went back unconfirmed: its own switch runs again (its recorded inputs are the new ones).
            wentBack: Object.fromEntries(
                routers.flatMap((r, i) => (observedRouters[i]?.wentBack ? [[r, observedRouters[i]!.wentBack!]] : [])),
            ),
        },
        { dependsOn: [...pools[idle].deployments, ...(preSwitch ? [preSwitch.run] : [])] },
    );
    // The routers' floating address, once every router serves (ssh target, virtualIp).
    const vip = config.target === "ssh" ? virtualIpOf(config) : undefined;
    const floating =
        vip && config.target === "ssh"
            ? new FloatingAddress("vip", {
                  hostsLayer,
                  routers: sshRouters(config).map((machine, i) => ({
                      name: hostsLayer.routers[i],
                      address: machine.address,
                  })),
                  virtualIp: vip,
                  internalUrl,
                  formerNames,
                  after: router.switched,
              })
            : undefined;
    // After the verified switch: its failure is a warning, traffic stays.
    const postSwitch = config.postSwitchCommand
        ? hook("post-switch", config.postSwitchCommand, "warn", [...router.switched])
        : undefined;

    // Outputs are recorded only when the whole update succeeded, so `deployState` and `nginx`
    // always describe what the pools and nginx really run (the safety rules read them next time).
    const recordedAfterSwitch = router.done.apply(() => recordedOutputs(deployState));
    return {
        activeColor: live,
        liveVersion: releases[live].version,
        standbyVersion: releases[otherColor(live)].version,
        publicUrl: pulumi.interpolate`http://${hostHeader}:${config.publicPort}`,
        internalUrl,
        pools: Object.fromEntries(
            COLORS.map((color) => [
                color,
                { version: releases[color].version, hosts: hosts[color].map((h) => `${h.address}:${h.port}`) },
            ]),
        ),
        lastSwitch: router.lastSwitch,
        ...(floating ? { virtualAddress: floating.address } : {}),
        // The process each host's deploy started ("name=id ..."): the next update refuses to go on
        // while another process answers a live host. Recorded once the switch succeeded.
        instances: pulumi
            .all([router.done, pools.blue.instances, pools.green.instances])
            .apply(([, blue, green]) => ({ blue, green })),
        // The next update asks nginx here before anything resolves the address again.
        ...loginOutputs(hostsLayer),
        deployState: recordedAfterSwitch.deployState,
        nginx: recordedAfterSwitch.nginx,
        // Every hook run (the newest 100), for `npm run history`.
        hookRuns: pulumi
            .all([router.done, preSwitch?.result, postSwitch?.result])
            .apply(([, pre, post]) => withHookRuns(recordedRuns, [pre, post])),
        // The bakes' verdicts nginx's host kept until this update (the newest 100), for `npm run history`:
        // a failed bake's update records nothing, the next successful one records why it failed.
        bakes: pulumi
            .output(router.done)
            .apply(() => withBakes(recordedBakes(lastOutputs.bakes), observed?.bakes ?? [])),
    };
}

/** Where the last update logged in to each router (its outputs), by the name the router had then. */
function lastLoginAddresses(outputs: Record<string, unknown>): Record<string, string | undefined> {
    const recorded = outputs.routerLoginAddresses;
    if (recorded && typeof recorded === "object")
        return Object.fromEntries(Object.entries(recorded).map(([name, address]) => [name, stringOutput(address)]));
    // One router (also from before routers could be several): nginxLoginAddress, named nginx.
    return { nginx: stringOutput(outputs.nginxLoginAddress) };
}

/** The login addresses as outputs: the first router's as before, every router's where there are several. */
function loginOutputs(hostsLayer: HostsLayer) {
    const logins = hostsLayer.routerLoginAddresses;
    if (!logins) return {};
    return {
        nginxLoginAddress: logins[hostsLayer.routers[0]],
        ...(hostsLayer.routers.length > 1 ? { routerLoginAddresses: logins } : {}),
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
