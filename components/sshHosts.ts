// The ssh target's hosts layer: existing machines reached over SSH. Scripts run with
// `command.remote.Command`, artifacts travel with `remote.CopyToRemote`; pools, the gate and
// the router are the same code as on the local target. Before any host is changed, every
// host is checked (reachable, accepts the variables, has what its role needs), so a host that
// cannot be reached fails the update with its name and the cause, and nothing else changes.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Color, SshHost } from "./config";
import { type AppHost, type HostScript, type HostsLayer, type ScriptRun, type ShippedArtifact, commandInputs } from "./hosts";
import { loadScript } from "./templates";

export interface SshHostsArgs {
    readonly nginx: SshHost;
    readonly pools: Readonly<Record<Color, readonly SshHost[]>>;
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
    readonly supervisor: "auto" | "systemd" | "process";
}

type Role = "nginx" | Color;

export class SshHosts implements HostsLayer {
    readonly target = "ssh" as const;
    readonly supervisor: "auto" | "systemd" | "process";
    readonly nginxPrefix: string;
    readonly routerLoopback = "127.0.0.1";
    private readonly checks: pulumi.Resource[] = [];

    constructor(private readonly args: SshHostsArgs) {
        this.supervisor = args.supervisor;
        this.nginxPrefix = `${args.remoteDir}/nginx`;
    }

    get reachable(): readonly pulumi.Resource[] {
        return this.checks;
    }

    /**
     * Registers one check per host. `trigger` changes whenever anything on the hosts would
     * change, so the checks run before every change and never when nothing changes.
     */
    checkReachable(trigger: string): void {
        const roles: [string, Role, SshHost][] = [
            ["nginx", "nginx", this.args.nginx],
            ...(["blue", "green"] as const).flatMap((color) => this.args.pools[color].map((h, i): [string, Role, SshHost] => [`${color}-${i + 1}`, color, h])),
        ];
        const script = loadScript("remote/check-host.sh");
        for (const [name, role, host] of roles) {
            this.checks.push(
                new command.remote.Command(`reach-${name}`, {
                    connection: this.connection(host),
                    addPreviousOutputInEnv: false,
                    ...commandInputs({
                        create: script,
                        update: script,
                        environment: { HOST_NAME: name, ROLE: role, REMOTE_DIR: this.args.remoteDir, CHECK_TRIGGER: trigger },
                    }),
                }),
            );
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
            user: h.user ?? this.args.defaultUser,
        }));
    }

    shipArtifact(name: string, host: AppHost, releaseId: string, artifactDir: string, opts: pulumi.CustomResourceOptions): ShippedArtifact {
        const remotePath = `${host.workDir}/incoming/${releaseId}`;
        const copy = new command.remote.CopyToRemote(
            name,
            {
                connection: this.connection(this.poolHost(host)),
                // An archive of entries lands at remotePath/<entry>, whether or not remotePath exists yet.
                source: new pulumi.asset.AssetArchive({ artifact: new pulumi.asset.FileArchive(artifactDir) }),
                remotePath,
            },
            opts,
        );
        return { dir: `${remotePath}/artifact`, copy };
    }

    onHost(name: string, host: AppHost, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return new command.remote.Command(name, { connection: this.connection(this.poolHost(host)), addPreviousOutputInEnv: false, ...commandInputs(script) }, opts);
    }

    onRouter(name: string, script: HostScript, opts: pulumi.CustomResourceOptions): ScriptRun {
        return new command.remote.Command(name, { connection: this.connection(this.args.nginx), addPreviousOutputInEnv: false, ...commandInputs(script) }, opts);
    }

    publicHost(publicAddress: string): string {
        return publicAddress === "0.0.0.0" ? this.args.nginx.address : publicAddress;
    }

    private poolHost(host: AppHost): SshHost {
        return this.args.pools[host.color][host.index - 1];
    }

    private connection(host: SshHost): command.types.input.remote.ConnectionArgs {
        return {
            host: host.address,
            port: host.port ?? 22,
            user: host.user ?? this.args.defaultUser,
            privateKey: this.args.privateKey,
            ...(host.hostKey ? { hostKey: host.hostKey } : {}),
            dialErrorLimit: this.args.dialAttempts,
            perDialTimeout: this.args.dialTimeoutSeconds,
        };
    }
}
