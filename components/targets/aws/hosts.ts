// The aws target: it declares the machines (network.ts, machines.ts) and reaches them as the
// ssh target does; the pool hosts have private addresses only, so the (first) nginx host's
// Elastic IP is also their jump host. With two routers, clients connect to a Network Load
// Balancer in front of both (loadBalancer.ts); the Elastic IPs are then for SSH only.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { type Color, type ProgramConfigOf } from "../../config";
import { appUnitText } from "../../appUnit";
import { SshHosts } from "../ssh/hosts";
import { AwsLoadBalancer } from "./loadBalancer";
import { AwsMachines } from "./machines";
import { AwsNetwork, type SubnetInfo } from "./network";

/** The user cloud-init creates on every instance: the program logs in as it, the app runs as it. */
export const AWS_APP_USER = "bluegreen";
/** New instances boot and run cloud-init before sshd answers: allow for it (with backoff). */
const AWS_DIAL_ATTEMPTS = 40;

async function describeSubnet(id: string): Promise<SubnetInfo> {
    const subnet = await aws.ec2.getSubnet({ id });
    const prefix = Number(subnet.cidrBlock.split("/")[1]);
    if (prefix > 24) {
        throw new pulumi.RunError(
            `subnet ${id} is ${subnet.cidrBlock}; the aws target places hosts at fixed addresses in a /24 or ` +
                "larger subnet. Fix: list larger subnets in awsPublicSubnetIds/awsPrivateSubnetIds",
        );
    }
    return { id, cidr: subnet.cidrBlock, availabilityZone: subnet.availabilityZone };
}

export async function createAwsHosts(config: ProgramConfigOf<"aws">): Promise<SshHosts> {
    const tags = { Project: pulumi.getProject(), Stack: pulumi.getStack(), ManagedBy: "pulumi" };
    const zones =
        config.awsAvailabilityZones.length > 0
            ? config.awsAvailabilityZones
            : (await aws.getAvailabilityZones({ state: "available" })).names.slice(0, 2);
    if (zones.length < 2)
        throw new pulumi.RunError(
            `the region offers ${zones.length} availability zone(s); the pools span two. ` +
                "Fix: choose another region (aws:region)",
        );
    const existing = config.awsVpcId
        ? {
              vpcId: config.awsVpcId,
              publicSubnets: await Promise.all(config.awsPublicSubnetIds.map(describeSubnet)),
              privateSubnets: await Promise.all(config.awsPrivateSubnetIds.map(describeSubnet)),
          }
        : undefined;
    // Never a hard-coded AMI: the newest image matching the filter, from the configured owner.
    const ami = await aws.ec2.getAmi({
        mostRecent: true,
        owners: [config.awsAmiOwner],
        filters: [
            { name: "name", values: [config.awsAmiNameFilter] },
            { name: "architecture", values: ["x86_64"] },
            { name: "state", values: ["available"] },
        ],
    });

    const network = new AwsNetwork("network", {
        existing,
        vpcCidr: config.awsVpcCidr,
        availabilityZones: zones,
        publicCidrs: config.publicCidrs,
        adminCidr: config.adminCidr,
        appPort: config.appPort,
        publicPort: config.publicPort,
        tlsPort: config.tls ? config.httpsPort : undefined,
        loadBalanced: config.awsRouters > 1,
        tags,
    });
    const workDir = `${config.remoteDir}/app`;
    const unitFor = (color: Color) => (index: number) => {
        const host = { name: `${color}-${index}`, color, workDir, user: AWS_APP_USER };
        return appUnitText(host, config.appStartCommand, config.drainTimeoutSeconds);
    };
    const machines = new AwsMachines("machines", {
        amiId: ami.id,
        publicKey: config.awsPublicKey,
        user: AWS_APP_USER,
        remoteDir: config.remoteDir,
        nginxInstanceType: config.nginxInstanceType,
        routers: config.awsRouters,
        instanceTypes: { blue: config.blueInstanceType, green: config.greenInstanceType },
        counts: { blue: config.blueHosts, green: config.greenHosts },
        publicSubnets: network.publicSubnets,
        privateSubnets: network.privateSubnets,
        nginxSecurityGroupId: network.nginxSecurityGroup.id,
        poolSecurityGroupId: network.poolSecurityGroup.id,
        unitText: { blue: unitFor("blue"), green: unitFor("green") },
        tags,
    });

    const routers = machines.routers.map((m) => ({
        address: m.privateAddress,
        connectAddress: m.publicIp,
        ready: m.ready,
    }));
    const loadBalancer =
        network.loadBalancerSecurityGroup &&
        new AwsLoadBalancer("routers", {
            vpcId: network.vpcId,
            publicSubnets: network.publicSubnets,
            securityGroupId: network.loadBalancerSecurityGroup.id,
            ports: network.publicPorts,
            routers: machines.routers,
            tags,
        });
    const pool = (color: Color) =>
        machines.pools[color].map((m) => ({ address: m.privateAddress, ready: [m.instance] }));
    return new SshHosts({
        routers,
        pools: { blue: pool("blue"), green: pool("green") },
        jumpHost: routers[0],
        // Clients: the balancer's name with two routers, the one router's Elastic IP otherwise.
        publicHost: loadBalancer ? loadBalancer.dnsName : routers[0].connectAddress,
        defaultUser: AWS_APP_USER,
        privateKey: config.sshPrivateKey,
        appPort: config.appPort,
        remoteDir: config.remoteDir,
        dialAttempts: Math.max(config.sshDialAttempts, AWS_DIAL_ATTEMPTS),
        dialTimeoutSeconds: config.sshDialTimeoutSeconds,
        supervisor: config.supervisor,
        switchMode: config.switchMode,
    });
}
