// The ssh target: existing machines, scripts through command.remote.Command, artifacts through
// CopyToRemote. Every host is checked before any is changed, so an unreachable one fails the
// update naming it and the cause, and nothing else changes.
import * as fs from "node:fs";
import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { COLORS, type Color, type SwitchMode } from "../../configKeys";
import {
    type AppHost,
    type HostScript,
    type HostsLayer,
    type ScriptRun,
    type ShippedArtifact,
    appUser,
    commandInputs,
    nginxWorkerUser,
    routerNames,
} from "../../hosts";
import type { ObserveRequest, ObservedNginx } from "../../observe";
import { TARBALL } from "../../release";
import { SCRIPTS, hostScript } from "../../scripts";
import type { SshHost, Supervisor } from "./config";
import { observeOverSsh } from "./observe";

/**
 * The command plugin offers an SSH agent's keys beside sshPrivateKey whenever SSH_AUTH_SOCK is
 * set, and fails every remote command when no agent answers there: say so before anything runs.
 */
export async function checkAgentSocket(socket = process.env.SSH_AUTH_SOCK): Promise<void> {
    if (!socket) return;
    const problem = await new Promise<string | undefined>((resolve) => {
        const probe = net.connect(socket, () => {
            probe.end();
            resolve(undefined);
        });
        probe.setTimeout(2000, () => {
            probe.destroy();
            resolve("it did not answer within 2 s");
        });
        probe.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    if (problem) {
        throw new pulumi.RunError(
            `SSH_AUTH_SOCK is set to ${socket}, but no SSH agent answers there (${problem}). ` +
                "The command plugin tries that agent on every SSH connection and fails every remote command " +
                "without it. Fix: unset SSH_AUTH_SOCK for this run (the stack logs in with sshPrivateKey), " +
                'or start the agent again (eval "$(ssh-agent)").',
        );
    }
}

/** A machine commands reach over SSH. */
export interface RemoteMachine extends SshHost {
    /** Where SSH connects, when not `address` (the aws nginx host: its Elastic IP). */
    readonly connectAddress?: pulumi.Input<string>;
    /** What must exist before anything connects (the aws instance). */
    readonly ready?: readonly pulumi.Resource[];
}

export interface SshHostsArgs {
    /** The nginx hosts (routers): one, or several switched as one. */
    readonly routers: readonly RemoteMachine[];
    /** Their names (default: nginx, or nginx-1, nginx-2... by position). */
    readonly routerNames?: readonly string[];
    readonly pools: Readonly<Record<Color, readonly RemoteMachine[]>>;
    /** Pool hosts are reached through this host (a jump host), when set. */
    readonly jumpHost?: RemoteMachine;
    /** Where clients reach nginx, when publicAddress is 0.0.0.0 (default: the nginx host's address). */
    readonly publicHost?: pulumi.Input<string>;
    /** Login where a host names none. */
    readonly defaultUser: string;
    /** A Pulumi secret: never in state as plain text, nor in logs. */
    readonly privateKey: pulumi.Output<string>;
    /** The port every app listens on, on its host's address. */
    readonly appPort: number;
    /** Directory on every host: app/ on pool hosts, nginx/ (nginx's prefix) on the nginx host. */
    readonly remoteDir: string;
    readonly dialAttempts: number;
    readonly dialTimeoutSeconds: number;
    readonly supervisor: Supervisor;
    /** The no-reload switch needs nginx's Lua module: the nginx host's check looks for it. */
    readonly switchMode: SwitchMode;
}

type Role = "nginx" | Color;

/** A remote script's deadline on its host when its component sets none. */
const DEFAULT_DEADLINE_SECONDS = 300;

export class SshHosts implements HostsLayer {
    readonly supervisor: Supervisor;
    readonly nginxPrefix: string;
    readonly nginxUser: string;
    readonly nginxWorkerUser?: string;
    readonly baseDir: string;
    readonly routers: readonly string[];
    private readonly routerMachines: ReadonlyMap<string, RemoteMachine>;
    private readonly checks: pulumi.Resource[] = [];
    /** Several routers' checks: the switches wait for them, the gate and the deploys do not. */
    private readonly routerChecks: pulumi.Resource[] = [];

    constructor(private readonly args: SshHostsArgs) {
        this.supervisor = args.supervisor;
        this.nginxPrefix = `${args.remoteDir}/nginx`;
        this.routers = args.routerNames ?? routerNames(args.routers.length);
        this.routerMachines = new Map(this.routers.map((name, i) => [name, args.routers[i]]));
        // Every router runs nginx as its own login: one nginx user for the config (the same text on all).
        this.nginxUser = args.routers[0].user ?? args.defaultUser;
        this.nginxWorkerUser = nginxWorkerUser(this.nginxUser);
        this.baseDir = args.remoteDir;
    }

    get reachable(): readonly pulumi.Resource[] {
        return this.checks;
    }

    get routersReachable(): readonly pulumi.Resource[] {
        return this.routerChecks;
    }

    /**
     * Registers one check per host. `trigger` changes whenever anything on a pool host would
     * change, so every host is checked before any deploy, and never when nothing changes. A
     * switch touches only the nginx host: its own commands fail naming it if it is unreachable.
     */
    checkReachable(trigger: string, routersTrigger = ""): void {
        const several = this.routers.length > 1;
        const roles: [string, Role, RemoteMachine][] = [
            ...this.routers.map((name): [string, Role, RemoteMachine] => [name, "nginx", this.router(name)]),
            ...COLORS.flatMap((color) =>
                this.args.pools[color].map((h, i): [string, Role, RemoteMachine] => [`${color}-${i + 1}`, color, h]),
            ),
        ];
        for (const [name, role, host] of roles) {
            const throughJumpHost = role !== "nginx";
            // Every other command waits for these checks, so only they wait for the machines.
            const ready = [...(host.ready ?? []), ...(throughJumpHost ? (this.args.jumpHost?.ready ?? []) : [])];
            // Where the login is root, the users the role's processes run as are made here.
            const login = host.user ?? this.args.defaultUser;
            const runAs = role === "nginx" ? nginxWorkerUser(login) : appUser(login);
            // Unguarded: this check is what reports a host without timeout, flock or remoteDir.
            const check = hostScript({
                create: SCRIPTS.checkHost,
                update: true,
                environment: {
                    HOST_NAME: name,
                    ROLE: role,
                    REMOTE_DIR: this.args.remoteDir,
                    SWITCH_MODE: this.args.switchMode,
                    CHECK_TRIGGER: several && role === "nginx" ? `${trigger} ${routersTrigger}` : trigger,
                    ...(runAs && runAs !== login ? { RUN_AS: runAs } : {}),
                },
            });
            const run = this.run(`reach-${name}`, host, throughJumpHost, check, { dependsOn: ready }, false);
            (several && role === "nginx" ? this.routerChecks : this.checks).push(run);
        }
    }

    poolHosts(color: Color): AppHost[] {
        return this.args.pools[color].map((h, i) => ({
            name: `${color}-${i + 1}`,
            color,
            index: i + 1,
            address: h.address,
            port: this.args.appPort,
            workDir: `${this.args.remoteDir}/app`,
            user: appUser(h.user ?? this.args.defaultUser),
        }));
    }

    shipArtifact(
        name: string,
        host: AppHost,
        releaseId: string,
        artifactPath: string,
        opts: pulumi.CustomResourceOptions,
    ): ShippedArtifact {
        // A tarball travels as one file (the deploy unpacks it on the host), a directory as its
        // files. The plugin creates the missing parents of remotePath; a directory given with a
        // trailing slash lands as remotePath itself, not as remotePath/<its name>.
        const tarball = fs.statSync(artifactPath).isFile() ? TARBALL.exec(artifactPath) : null;
        const remotePath = `${host.workDir}/incoming/${releaseId}/${tarball ? `artifact.${tarball[1]}` : "artifact"}`;
        const copy = new command.remote.CopyToRemote(
            name,
            {
                connection: this.connection(this.poolHost(host), true),
                source: tarball
                    ? new pulumi.asset.FileAsset(artifactPath)
                    : new pulumi.asset.FileArchive(`${artifactPath.replace(/\/+$/, "")}/`),
                remotePath,
            },
            opts,
        );
        return { path: remotePath, copy };
    }

    onHost(name: string, host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return this.run(name, this.poolHost(host), true, script, opts);
    }

    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions, router?: string): ScriptRun {
        return this.run(name, this.router(router ?? this.routers[0]), false, script, opts);
    }

    private router(name: string): RemoteMachine {
        const machine = this.routerMachines.get(name);
        if (!machine) throw new Error(`no router named ${name} (routers: ${this.routers.join(", ")})`);
        return machine;
    }

    /**
     * A remote command on `machine`, through the jump host if asked. The previous output is not
     * sent back as variables: sshd would have to accept PULUMI_COMMAND_* too, and no script
     * reads them.
     */
    private run(
        name: string,
        machine: RemoteMachine,
        throughJumpHost: boolean,
        script: HostScript,
        opts: pulumi.CustomResourceOptions,
        guarded = true,
    ): command.remote.Command {
        // Guarded: under a deadline, one script at a time per host (a lost client's may still run).
        const deadline = script.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;
        const lockFile = `${this.args.remoteDir}/.lock`;
        const inputs = guarded ? commandInputs(script, deadline, lockFile) : commandInputs(script);
        const connection = this.connection(machine, throughJumpHost);
        return new command.remote.Command(name, { connection, addPreviousOutputInEnv: false, ...inputs }, opts);
    }

    publicHost(publicAddress: string): pulumi.Input<string> {
        return publicAddress === "0.0.0.0" ? (this.args.publicHost ?? this.args.routers[0].address) : publicAddress;
    }

    get routerLoginAddresses(): Readonly<Record<string, pulumi.Input<string>>> {
        return Object.fromEntries(this.routers.map((name) => [name, this.loginAddress(this.router(name))]));
    }

    private loginAddress(machine: RemoteMachine): pulumi.Input<string> {
        return machine.connectAddress ?? machine.address;
    }

    /**
     * Asked on the nginx host over SSH. Where this update makes its address (aws), the address
     * the last update logged in to is asked: a hand-set colour is drift there too. Not under the
     * unit tests' mocks (BLUEGREEN_OBSERVE=off), which reach no host.
     */
    async observeNginx(request: ObserveRequest, router: string): Promise<ObservedNginx | undefined> {
        const nginx = this.router(router);
        const known = this.loginAddress(nginx);
        const address = typeof known === "string" ? known : request.lastLoginAddress;
        if (address === undefined || process.env.BLUEGREEN_OBSERVE === "off") return undefined;
        const privateKey = await new Promise<string>((resolve) => this.args.privateKey.apply(resolve));
        return observeOverSsh(
            {
                address,
                port: nginx.port ?? 22,
                user: nginx.user ?? this.args.defaultUser,
                privateKey,
                hostKey: nginx.hostKey,
                timeoutSeconds: this.args.dialTimeoutSeconds,
            },
            request,
            `${this.nginxPrefix}/unconfirmed.expired`,
        );
    }

    private poolHost(host: AppHost): RemoteMachine {
        return this.args.pools[host.color][host.index - 1];
    }

    /** How to reach `host`; pool hosts through the jump host when there is one. */
    private connection(host: RemoteMachine, throughJumpHost = false): command.types.input.remote.ConnectionArgs {
        const jump = throughJumpHost ? this.args.jumpHost : undefined;
        return {
            ...this.direct(host),
            ...(jump ? { proxy: this.direct(jump) } : {}),
        };
    }

    private direct(host: RemoteMachine) {
        return {
            host: host.connectAddress ?? host.address,
            port: host.port ?? 22,
            user: host.user ?? this.args.defaultUser,
            privateKey: this.args.privateKey,
            ...(host.hostKey ? { hostKey: host.hostKey } : {}),
            // The plugin dials dialErrorLimit + 1 times (refused logins and host keys too).
            dialErrorLimit: this.args.dialAttempts - 1,
            perDialTimeout: this.args.dialTimeoutSeconds,
        };
    }
}
