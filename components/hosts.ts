// The hosts layer: what a pool's hosts are and how a script reaches a pool host or the nginx
// host. Each target implements it (components/targets/); pools, the gate and the router are
// written once against it.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { Color } from "./config";
import type { ObserveRequest, ObservedNginx } from "./observe";
import type { Supervisor } from "./targets/ssh/config";
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
    /** The user that runs the app: the login, or APP_USER where the login is root (runAs). */
    readonly user: string;
}

/** Who runs the apps where the deploy runs as root: never root itself. */
export const APP_USER = "bluegreen-app";
/** Who runs nginx's workers where its master runs as root: a user of their own, not the shared nobody. */
export const NGINX_WORKER_USER = "bluegreen-nginx";

/** The user an app runs as on a host whose scripts run as `login`. */
export function appUser(login: string): string {
    return login === "root" ? APP_USER : login;
}

/** The `user` of nginx's workers when its master runs as `login`: only root's workers change user. */
export function nginxWorkerUser(login: string): string | undefined {
    return login === "root" ? NGINX_WORKER_USER : undefined;
}

/** Scripts for a resource's lifecycle and their environment; the same shape for every target. */
export interface HostScript {
    readonly create: Script;
    readonly update?: Script;
    readonly delete?: Script;
    readonly environment: Record<string, pulumi.Input<string>>;
    /** Over SSH, the host stops the script after this long: a lost client cannot leave it running. */
    readonly deadlineSeconds?: number;
    /** A change of any of these replaces the command: `create` runs again (not `update`). */
    readonly triggers?: readonly pulumi.Input<string>[];
}

/**
 * Why a command has no script: the variables never arrived. The official command plugin fails
 * first when sshd refuses one; this catches an SSH server that drops them without saying so.
 */
const MISSING_SCRIPT = "not received: sshd must AcceptEnv BLUEGREEN_*";

/** Every variable a script gets is sent with this prefix; lib.sh strips it again. */
export const ENV_PREFIX = "BLUEGREEN_";

/**
 * How `script` runs on a host: each phase's command line, and the variables it reads. Each
 * script travels in an environment variable and the command line only names it, so errors and
 * logs show `bash -c "$BLUEGREEN_ON_CREATE" deploy-host.sh`, not a page of shell.
 * Every variable is named BLUEGREEN_*: over SSH the server accepts only the names its
 * sshd_config lists (`AcceptEnv BLUEGREEN_*`), and a command whose script did not arrive
 * fails saying so instead of running nothing.
 */
export function scriptCommands(script: HostScript, deadlineSeconds?: number, lockFile?: string) {
    const phases = { create: script.create, update: script.update, delete: script.delete };
    const environment: Record<string, pulumi.Input<string>> = {};
    for (const [name, value] of Object.entries(script.environment)) environment[`${ENV_PREFIX}${name}`] = value;
    const commands: Partial<Record<keyof typeof phases, string>> = {};
    const scriptTexts: Record<string, string> = {};
    const scriptIds: string[] = [];
    for (const [phase, s] of Object.entries(phases) as [keyof typeof phases, Script | undefined][]) {
        if (!s) continue;
        // A script that is also another phase's travels once (state and every call carry it).
        const same = phase === "update" && script.create.text === s.text ? "create" : phase;
        const variable = `${ENV_PREFIX}ON_${same.toUpperCase()}`;
        scriptTexts[variable] = s.text;
        scriptIds.push(`${phase}=${s.name}@${createHash("sha256").update(s.text).digest("hex").slice(0, 12)}`);
        const run = `/bin/bash -c "\${${variable}:?${MISSING_SCRIPT}}" ${s.name}`;
        commands[phase] = deadlineSeconds ? withDeadline(run, deadlineSeconds, s.name, lockFile) : `exec ${run}`;
    }
    environment[`${ENV_PREFIX}SCRIPTS`] = scriptIds.join(" ");
    return { commands, environment, scriptTexts };
}

/**
 * The command resource's inputs for `script` (see scriptCommands). The script texts are marked
 * secret only to keep them out of `pulumi preview --diff`, which would print a whole script for a
 * one-line change; BLUEGREEN_SCRIPTS names each with a hash of its text, so a changed script
 * still shows there, as one line.
 */
export function commandInputs(script: HostScript, deadlineSeconds?: number, lockFile?: string) {
    const { commands, environment, scriptTexts } = scriptCommands(script, deadlineSeconds, lockFile);
    for (const [variable, text] of Object.entries(scriptTexts)) environment[variable] = pulumi.secret(text);
    return { ...commands, environment, ...(script.triggers ? { triggers: [...script.triggers] } : {}) };
}

/**
 * `run` stopped by the host itself after `seconds` (SIGTERM, SIGKILL 10 s later), saying so,
 * and first, with `lockFile`, waiting up to as long for any other script on this host to end.
 * The command plugin sends no SSH keepalive and cannot stop a remote command it lost.
 */
function withDeadline(run: string, seconds: number, scriptName: string, lockFile?: string): string {
    // -o: the lock is not handed down to what the script starts (an app outlives it).
    const lock = lockFile ? `flock -o -w ${seconds} -E 75 ${lockFile} ` : "";
    const said = (status: string, text: string) => `${status}) echo "error: ${text}" >&2;;`;
    const ended = [
        said("124|137", `${scriptName} did not finish within its ${seconds} s deadline on $(uname -n); it was stopped`),
        ...(lockFile
            ? [said("75", `another script still ran on $(uname -n) after ${seconds} s (it holds ${lockFile})`)]
            : []),
    ];
    return `${lock}timeout -k 10 ${seconds} ${run} || { s=$?; case $s in ${ended.join(" ")} esac; exit $s; }`;
}

/** What running a script leaves: a resource with the script's standard output. */
export type ScriptRun = pulumi.Resource & { readonly stdout: pulumi.Output<string> };

/** Where a pool host finds a release's artifact, and the resource that put it there. */
export interface ShippedArtifact {
    /** The artifact (directory or tarball) as the host sees it. */
    readonly path: string;
    /** Copies it there; the deploy depends on it. None where the host reads the local artifact. */
    readonly copy?: pulumi.Resource;
}

export interface HostsLayer {
    /** How pool hosts keep their app running (templates/scripts/supervisor/). */
    readonly supervisor: Supervisor;
    poolHosts(color: Color): AppHost[];
    /** Makes `artifactPath` (on this machine: a directory or a tarball) available to `host` as release `releaseId`. */
    shipArtifact(
        name: string,
        host: AppHost,
        releaseId: string,
        artifactPath: string,
        opts: pulumi.CustomResourceOptions,
    ): ShippedArtifact;
    /** Runs a script on a pool host. */
    onHost(name: string, host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun;
    /**
     * The nginx hosts (routers), by name: "nginx" where there is one, "nginx-1", "nginx-2"... where
     * there are several. The first runs the gate and is where a single router's commands always ran.
     */
    readonly routers: readonly string[];
    /** Runs a script on a router (default: the first). */
    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions, router?: string): ScriptRun;
    /**
     * Resources every host command waits for: checks that every host can be reached before
     * any of them is changed. Empty where nothing can fail to connect.
     */
    readonly reachable: readonly pulumi.Resource[];
    /**
     * Registers the checks behind `reachable`; they run again whenever `trigger` changes: when
     * anything on a pool host would change. (A single router's switch changes only that host, whose
     * own commands fail naming it, before changing anything, if it cannot be reached.) Several
     * routers' checks also run whenever `routersTrigger` changes (when the switch runs): one router
     * that cannot be reached must stop the switch before any other router changes.
     */
    checkReachable(trigger: string, routersTrigger?: string): void;
    /**
     * Several routers' checks (empty otherwise): only the switches wait for them, so they run beside
     * the gate; an unreachable router still stops the switch before any router changes.
     */
    readonly routersReachable: readonly pulumi.Resource[];
    /** nginx's prefix directory on the nginx host. */
    readonly nginxPrefix: string;
    /** The login on the nginx host: it owns the prefix, and nginx's systemd unit runs nginx as it. */
    readonly nginxUser: string;
    /** nginx's workers' user where its master runs as root (nginxWorkerUser); absent elsewhere. */
    readonly nginxWorkerUser?: string;
    /** The stack's directory on every host (stateDir, remoteDir): everything it writes is under it. */
    readonly baseDir: string;
    /** Where clients reach the public listener: `publicAddress`, or the host's when that is 0.0.0.0. */
    publicHost(publicAddress: string): pulumi.Input<string>;
    /**
     * Where the program logs in to each router, by name, recorded as an output so that the next
     * update can ask nginx before this one's resources resolve it (aws: Elastic IPs). None on local.
     */
    readonly routerLoginAddresses?: Readonly<Record<string, pulumi.Input<string>>>;
    /**
     * What nginx serves now on `router`, asked through its internal listener, and what each of
     * `hosts` answers on /health, where the program can reach them; undefined where it cannot.
     */
    observeNginx(request: ObserveRequest, router: string): Promise<ObservedNginx | undefined>;
}

/** A router's name: "nginx" where it is the only one (as before routers could be several), else "nginx-N". */
export function routerNames(count: number): string[] {
    return count === 1 ? ["nginx"] : Array.from({ length: count }, (_, i) => `nginx-${i + 1}`);
}

/**
 * The name each router had in the last update, where it differs: its resources keep their history
 * under the new name (aliases) instead of being deleted, which would stop nginx on a router that stays.
 * By login address where the last update recorded one (a router keeps its name when others are added
 * or removed: ssh names routers after their addresses); else by position (aws: one router per zone).
 */
export function formerRouterNames(
    current: readonly { readonly name: string; readonly address?: string }[],
    previous: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
    const currentNames = new Set(current.map((r) => r.name));
    const byAddress = new Map(
        Object.entries(previous).flatMap(([name, address]) => (address ? [[address, name] as const] : [])),
    );
    const former: Record<string, string> = {};
    current.forEach((router, i) => {
        const recorded = router.address ? byAddress.get(router.address) : undefined;
        // Never a name another router has now: that resource stays that router's.
        const positional = i === 0 ? (current.length === 1 ? "nginx-1" : "nginx") : undefined;
        const name = recorded ?? positional;
        if (name && name !== router.name && !currentNames.has(name)) former[router.name] = name;
    });
    return former;
}

/** How the nginx host reaches itself, on every target. */
export const LOOPBACK = "127.0.0.1";

/** Where the nginx host reaches its own public listener: on loopback when it listens on every address. */
export function listenerAddress(publicAddress: string): string {
    return publicAddress === "0.0.0.0" ? LOOPBACK : publicAddress;
}
