// The aws target's machines: the nginx host (or two, one per zone) in a public subnet with an
// Elastic IP, and each pool's instances in the private subnets (alternating zones), all from an
// AMI found by a filter, with a key pair from config and user-data rendered from templates/cloud-init.
// Every instance gets a fixed private address derived from its subnet and its place in the
// pool, so the nginx config (which names those addresses) renders before anything exists, and
// nothing a switch or a deploy changes is an input of any instance.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { Color } from "../../configKeys";
import { routerNames } from "../../hosts";
import type { SubnetInfo } from "./network";
import { userData } from "./userData";

/** Address number `offset` inside a /24 (or larger) subnet: 10.20.11.0/24, 12 → 10.20.11.12. */
export function hostAddress(cidr: string, offset: number): string {
    const [a, b, c] = cidr.split("/")[0].split(".");
    return `${a}.${b}.${c}.${offset}`;
}

/** Where host `index` (1-based) of a pool lives: zones alternate; blue from .11, green from .111. */
export function poolPlacement(
    color: Color,
    index: number,
    subnets: readonly SubnetInfo[],
): { subnet: SubnetInfo; address: string } {
    const subnet = subnets[(index - 1) % subnets.length];
    return { subnet, address: hostAddress(subnet.cidr, (color === "blue" ? 10 : 110) + index) };
}

export interface AwsMachinesArgs {
    readonly amiId: string;
    readonly publicKey: string;
    readonly user: string;
    readonly remoteDir: string;
    readonly nginxInstanceType: string;
    /** How many nginx instances: 1, or 2 (one in each zone's public subnet). */
    readonly routers: number;
    readonly instanceTypes: Readonly<Record<Color, string>>;
    readonly counts: Readonly<Record<Color, number>>;
    readonly publicSubnets: readonly SubnetInfo[];
    readonly privateSubnets: readonly SubnetInfo[];
    readonly nginxSecurityGroupId: pulumi.Input<string>;
    readonly poolSecurityGroupId: pulumi.Input<string>;
    /** The app unit each pool host gets, per colour (the same text the deploy installs). */
    readonly unitText: Readonly<Record<Color, (index: number) => string>>;
    readonly tags: Readonly<Record<string, string>>;
}

export interface PoolMachine {
    readonly color: Color;
    readonly index: number;
    readonly privateAddress: string;
    readonly instance: aws.ec2.Instance;
}

/** An nginx instance (a router). */
export interface RouterMachine {
    /** "nginx" where it is the only one, else "nginx-1", "nginx-2" (the names SshHosts gives them). */
    readonly name: string;
    readonly instance: aws.ec2.Instance;
    /** Its Elastic IP: where the program logs in (and, with one router, where clients connect). */
    readonly publicIp: pulumi.Output<string>;
    readonly privateAddress: string;
    /** Resources a command on it waits for (the instance and its public address). */
    readonly ready: readonly pulumi.Resource[];
}

export class AwsMachines extends pulumi.ComponentResource {
    /** The nginx instances: the first is the pools' jump host and runs the gate. */
    readonly routers: readonly RouterMachine[];
    readonly pools: Readonly<Record<Color, readonly PoolMachine[]>>;

    constructor(name: string, args: AwsMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:aws:Machines", name, {}, opts);
        const parent = { parent: this };
        const keyPair = new aws.ec2.KeyPair(`${name}-key`, { publicKey: args.publicKey, tags: args.tags }, parent);

        const names = routerNames(args.routers);
        this.routers = names.map((routerName, i) => {
            // One router per zone: losing a zone leaves the other's router serving.
            const subnet = args.publicSubnets[i];
            const privateAddress = hostAddress(subnet.cidr, 10);
            // Going from one router to two (or back) keeps the first instance and its address, never replaces it.
            const aliases = [{ name: names.length === 1 ? routerNames(2)[0] : "nginx" }];
            const instance = new aws.ec2.Instance(
                routerName,
                {
                    ami: args.amiId,
                    instanceType: args.nginxInstanceType,
                    subnetId: subnet.id,
                    privateIp: privateAddress,
                    vpcSecurityGroupIds: [args.nginxSecurityGroupId],
                    keyName: keyPair.keyName,
                    userData: userData(routerName, args, true),
                    metadataOptions: { httpTokens: "required" },
                    rootBlockDevice: { volumeSize: 10, volumeType: "gp3", encrypted: true },
                    tags: { ...args.tags, Name: `bluegreen-${routerName}`, Role: "nginx" },
                },
                { parent: this, ignoreChanges: ["userData"], aliases: i === 0 ? aliases : [] },
            );
            const address = new aws.ec2.Eip(
                routerName,
                { domain: "vpc", instance: instance.id, tags: { ...args.tags, Name: `bluegreen-${routerName}` } },
                { parent: this, aliases: i === 0 ? aliases : [] },
            );
            return {
                name: routerName,
                instance,
                publicIp: address.publicIp,
                privateAddress,
                ready: [instance, address],
            };
        });

        const pool = (color: Color): PoolMachine[] =>
            Array.from({ length: args.counts[color] }, (_, i) => {
                const index = i + 1;
                const placement = poolPlacement(color, index, args.privateSubnets);
                const instance = new aws.ec2.Instance(
                    `${color}-${index}`,
                    {
                        ami: args.amiId,
                        instanceType: args.instanceTypes[color],
                        subnetId: placement.subnet.id,
                        privateIp: placement.address,
                        associatePublicIpAddress: false,
                        vpcSecurityGroupIds: [args.poolSecurityGroupId],
                        keyName: keyPair.keyName,
                        userData: userData(`${color}-${index}`, args, false, args.unitText[color](index)),
                        metadataOptions: { httpTokens: "required" },
                        rootBlockDevice: { volumeSize: 10, volumeType: "gp3", encrypted: true },
                        tags: { ...args.tags, Name: `bluegreen-${color}-${index}`, Role: "pool", Pool: color },
                    },
                    // User-data prepares the first boot only; what changes later arrives over SSH.
                    { parent: this, ignoreChanges: ["userData"] },
                );
                return { color, index, privateAddress: placement.address, instance };
            });
        this.pools = { blue: pool("blue"), green: pool("green") };
        this.registerOutputs({
            nginxPublicIp: this.routers[0].publicIp,
            ...(this.routers.length > 1 ? { routerPublicIps: this.routers.map((r) => r.publicIp) } : {}),
        });
    }
}
