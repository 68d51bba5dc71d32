// The aws target's public entry point with two routers: an internet-facing Network Load Balancer
// in both public subnets, a TCP listener per public port (publicPort, and the HTTPS port with TLS:
// nginx terminates TLS, the balancer passes it through), each forwarding to a target group of
// both nginx instances. A router that stops accepting connections leaves the groups within
// about ten seconds (HEALTH_CHECK); the other router, in the other zone, keeps serving.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { RouterMachine } from "./machines";
import type { SubnetInfo } from "./network";

/**
 * TCP on nginx's own listener: a stopped nginx refuses the connection, so two failed checks 5 s
 * apart (3 s each at most, for a host that no longer answers at all) take it out; two passing
 * ones put it back. HTTP would also go through to the pools (or get 421 without the right Host),
 * and a pool's trouble must never take out a router that works.
 */
export const HEALTH_CHECK = {
    protocol: "TCP",
    port: "traffic-port",
    interval: 5,
    timeout: 3,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
} as const;

export interface AwsLoadBalancerArgs {
    readonly vpcId: pulumi.Input<string>;
    readonly publicSubnets: readonly SubnetInfo[];
    readonly securityGroupId: pulumi.Input<string>;
    /** The ports clients connect to; nginx listens on the same ones. */
    readonly ports: readonly number[];
    readonly routers: readonly RouterMachine[];
    readonly tags: Readonly<Record<string, string>>;
}

export class AwsLoadBalancer extends pulumi.ComponentResource {
    readonly loadBalancer: aws.lb.LoadBalancer;
    /** Where clients connect: the balancer's DNS name. */
    readonly dnsName: pulumi.Output<string>;

    constructor(name: string, args: AwsLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("bluegreen:aws:LoadBalancer", name, {}, opts);
        const parent = { parent: this };
        const tags = { ...args.tags, Name: "bluegreen-lb" };
        this.loadBalancer = new aws.lb.LoadBalancer(
            name,
            {
                loadBalancerType: "network",
                internal: false,
                ipAddressType: "ipv4",
                subnets: args.publicSubnets.map((subnet) => subnet.id),
                // Set at creation only: an NLB made without a group can never have one.
                securityGroups: [args.securityGroupId],
                // One router per zone: without cross-zone, a client on the dead router's zone address
                // would be refused until DNS dropped that address; with it, either zone reaches either router.
                enableCrossZoneLoadBalancing: true,
                tags,
            },
            parent,
        );
        for (const port of args.ports) {
            const group = new aws.lb.TargetGroup(
                `${name}-${port}`,
                {
                    vpcId: args.vpcId,
                    targetType: "instance",
                    protocol: "TCP",
                    port,
                    // nginx sees the client's address: its per-client limits (clientRequestRate,
                    // clientConnectionLimit) keep working behind the balancer.
                    preserveClientIp: "true",
                    healthCheck: { enabled: true, ...HEALTH_CHECK },
                    tags,
                },
                parent,
            );
            for (const router of args.routers) {
                new aws.lb.TargetGroupAttachment(
                    `${name}-${port}-${router.name}`,
                    { targetGroupArn: group.arn, targetId: router.instance.id, port },
                    parent,
                );
            }
            new aws.lb.Listener(
                `${name}-${port}`,
                {
                    loadBalancerArn: this.loadBalancer.arn,
                    protocol: "TCP",
                    port,
                    defaultActions: [{ type: "forward", targetGroupArn: group.arn }],
                    tags,
                },
                parent,
            );
        }
        this.dnsName = this.loadBalancer.dnsName;
        this.registerOutputs({ dnsName: this.dnsName });
    }
}
