// The aws target's network: a VPC (or an existing one) with a public and a private subnet in
// each of two availability zones, and the security groups the design allows:
//   nginx: HTTP(S) from the configured client CIDRs, SSH only from the admin CIDR;
//   pools: the app port and SSH only from the nginx security group;
//   with two routers, the load balancer: HTTP(S) from the client CIDRs, and nginx then takes
//   HTTP(S) from the load balancer's group only (clients cannot bypass it).
// Nothing is open to 0.0.0.0/0 except the public HTTP(S) listener (when the client CIDRs say so).
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/** A subnet as the rest of the program needs it: its id and CIDR (static addresses come from it). */
export interface SubnetInfo {
    readonly id: pulumi.Input<string>;
    readonly cidr: string;
    readonly availabilityZone: string;
}

export interface AwsNetworkArgs {
    /** An existing VPC, with its subnets; when absent a VPC is created from `vpcCidr`. */
    readonly existing?: {
        readonly vpcId: string;
        readonly publicSubnets: readonly SubnetInfo[];
        readonly privateSubnets: readonly SubnetInfo[];
    };
    readonly vpcCidr: string;
    readonly availabilityZones: readonly string[];
    readonly publicCidrs: readonly string[];
    readonly adminCidr: string;
    readonly appPort: number;
    readonly publicPort: number;
    /** When set, nginx also listens for HTTPS on this port. */
    readonly tlsPort?: number;
    /** Clients reach nginx through a Network Load Balancer (two routers): it gets its own group. */
    readonly loadBalanced: boolean;
    readonly tags: Readonly<Record<string, string>>;
}

/** The nth /24 of a /16 (or larger) network: 10.20.0.0/16, 11 → 10.20.11.0/24. */
export function subnetCidr(vpcCidr: string, third: number): string {
    const [a, b] = vpcCidr.split("/")[0].split(".");
    return `${a}.${b}.${third}.0/24`;
}

export class AwsNetwork extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly publicSubnets: readonly SubnetInfo[];
    readonly privateSubnets: readonly SubnetInfo[];
    readonly nginxSecurityGroup: aws.ec2.SecurityGroup;
    readonly poolSecurityGroup: aws.ec2.SecurityGroup;
    /** The load balancer's group (two routers only). */
    readonly loadBalancerSecurityGroup?: aws.ec2.SecurityGroup;
    /** The ports clients connect to: publicPort, and the HTTPS port with TLS. */
    readonly publicPorts: readonly number[];

    constructor(name: string, args: AwsNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:aws:Network", name, {}, opts);
        const parent = { parent: this };
        const tags = (suffix: string) => ({ ...args.tags, Name: `bluegreen-${suffix}` });

        if (args.existing) {
            this.vpcId = pulumi.output(args.existing.vpcId);
            this.publicSubnets = args.existing.publicSubnets;
            this.privateSubnets = args.existing.privateSubnets;
        } else {
            const vpc = new aws.ec2.Vpc(
                `${name}-vpc`,
                { cidrBlock: args.vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tags("vpc") },
                parent,
            );
            this.vpcId = vpc.id;
            const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags("igw") }, parent);
            const publicRoutes = new aws.ec2.RouteTable(
                `${name}-public`,
                { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags: tags("public") },
                parent,
            );
            const makeSubnets = (kind: "public" | "private", firstThird: number): SubnetInfo[] =>
                args.availabilityZones.map((zone, i) => {
                    const cidr = subnetCidr(args.vpcCidr, firstThird + i);
                    const subnet = new aws.ec2.Subnet(
                        `${name}-${kind}-${i + 1}`,
                        {
                            vpcId: vpc.id,
                            cidrBlock: cidr,
                            availabilityZone: zone,
                            mapPublicIpOnLaunch: false,
                            tags: tags(`${kind}-${zone}`),
                        },
                        parent,
                    );
                    return { id: subnet.id, cidr, availabilityZone: zone };
                });
            this.publicSubnets = makeSubnets("public", 1);
            this.privateSubnets = makeSubnets("private", 11);
            this.publicSubnets.forEach(
                (subnet, i) =>
                    new aws.ec2.RouteTableAssociation(
                        `${name}-public-${i + 1}`,
                        { subnetId: subnet.id, routeTableId: publicRoutes.id },
                        parent,
                    ),
            );
            // Pool hosts have no public address: they reach package mirrors through one NAT gateway.
            const natAddress = new aws.ec2.Eip(`${name}-nat`, { domain: "vpc", tags: tags("nat") }, parent);
            const nat = new aws.ec2.NatGateway(
                `${name}-nat`,
                { subnetId: this.publicSubnets[0].id, allocationId: natAddress.id, tags: tags("nat") },
                { parent: this, dependsOn: [gateway] },
            );
            const privateRoutes = new aws.ec2.RouteTable(
                `${name}-private`,
                { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat.id }], tags: tags("private") },
                parent,
            );
            this.privateSubnets.forEach(
                (subnet, i) =>
                    new aws.ec2.RouteTableAssociation(
                        `${name}-private-${i + 1}`,
                        { subnetId: subnet.id, routeTableId: privateRoutes.id },
                        parent,
                    ),
            );
        }

        const publicPorts = [args.publicPort, ...(args.tlsPort ? [args.tlsPort] : [])];
        this.publicPorts = publicPorts;
        if (args.loadBalanced) {
            this.loadBalancerSecurityGroup = new aws.ec2.SecurityGroup(
                `${name}-lb`,
                {
                    vpcId: this.vpcId,
                    description: "bluegreen load balancer: HTTP(S) from clients, to the nginx hosts only",
                    ingress: publicPorts.map((port) => ({
                        description: `clients to the load balancer :${port}`,
                        protocol: "tcp",
                        fromPort: port,
                        toPort: port,
                        cidrBlocks: [...args.publicCidrs],
                    })),
                    // Forwarded connections and health checks go to the routers, which sit in the public
                    // subnets: CIDRs, not nginx's group, which itself names this one (no cycle).
                    egress: publicPorts.map((port) => ({
                        description: `to the nginx hosts :${port} (traffic and health checks)`,
                        protocol: "tcp",
                        fromPort: port,
                        toPort: port,
                        cidrBlocks: this.publicSubnets.map((subnet) => subnet.cidr),
                    })),
                    tags: tags("lb"),
                },
                parent,
            );
        }
        const lbGroup = this.loadBalancerSecurityGroup;
        const everywhereOut = [
            {
                description: "outbound: package mirrors, time, DNS",
                protocol: "-1",
                fromPort: 0,
                toPort: 0,
                cidrBlocks: ["0.0.0.0/0"],
            },
        ];
        this.nginxSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-nginx`,
            {
                vpcId: this.vpcId,
                description: "bluegreen nginx host: HTTP(S) from clients, SSH from the admin network",
                ingress: [
                    ...(lbGroup
                        ? // The balancer's group, not the clients': nothing reaches nginx but through it
                          // (AWS honours the reference even with client IP preservation on).
                          publicPorts.map((port) => ({
                              description: `the load balancer to nginx :${port}`,
                              protocol: "tcp",
                              fromPort: port,
                              toPort: port,
                              securityGroups: [lbGroup.id],
                          }))
                        : publicPorts.map((port) => ({
                              description: `clients to nginx :${port}`,
                              protocol: "tcp",
                              fromPort: port,
                              toPort: port,
                              cidrBlocks: [...args.publicCidrs],
                          }))),
                    {
                        description: "SSH from the admin network",
                        protocol: "tcp",
                        fromPort: 22,
                        toPort: 22,
                        cidrBlocks: [args.adminCidr],
                    },
                ],
                egress: everywhereOut,
                tags: tags("nginx"),
            },
            parent,
        );
        this.poolSecurityGroup = new aws.ec2.SecurityGroup(
            `${name}-pools`,
            {
                vpcId: this.vpcId,
                description: "bluegreen pool hosts: the app port and SSH from the nginx host only",
                ingress: [
                    {
                        description: "app port from nginx (and its health gate)",
                        protocol: "tcp",
                        fromPort: args.appPort,
                        toPort: args.appPort,
                        securityGroups: [this.nginxSecurityGroup.id],
                    },
                    {
                        description: "SSH through the nginx host (jump host)",
                        protocol: "tcp",
                        fromPort: 22,
                        toPort: 22,
                        securityGroups: [this.nginxSecurityGroup.id],
                    },
                ],
                egress: everywhereOut,
                tags: tags("pools"),
            },
            parent,
        );
        this.registerOutputs({ vpcId: this.vpcId });
    }
}
