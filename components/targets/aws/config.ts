// The aws target's keys: both pools and the nginx host as EC2 instances, reached over SSH
// like the ssh target's machines (REMOTE_KEYS).
import {
    type CommonConfig,
    OCTET,
    type Parsed,
    POOL_SIZE_KEYS,
    integer,
    jsonList,
    key,
    pattern,
} from "../../configKeys";
import { HOST_KEY, REMOTE_KEYS } from "../ssh/config";

const CIDR = new RegExp(`^${OCTET}(\\.${OCTET}){3}/(3[0-2]|[12]?\\d)$`);
const CIDR_16 = new RegExp(`^${OCTET}\\.${OCTET}\\.0\\.0/16$`);
const AWS_ID = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{8,17}$`);
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/;
const AMI_NAME_FILTER = /^[A-Za-z0-9._*?/-]{1,128}$/;
const ZONE = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

const subnetIds = jsonList(pattern(AWS_ID("subnet"), "a subnet id such as subnet-0123456789abcdef0"), "subnet ids");
const instanceType = (example: string) => pattern(INSTANCE_TYPE, `an instance type such as ${example}`);

export const AWS_KEYS = {
    ...REMOTE_KEYS,
    ...POOL_SIZE_KEYS,
    /** The public half of the key pair (one line of a .pub file); its private half is sshPrivateKey. */
    awsPublicKey: key(
        pattern(HOST_KEY, "one line of a public key file (ssh-ed25519 AAAA... comment)"),
        'pulumi config set awsPublicKey "$(cat ~/.ssh/deploy_key.pub)"',
    ),
    /** The network allowed to SSH to the nginx host (the pools only take SSH from it). */
    adminCidr: key(pattern(CIDR, "an IPv4 CIDR such as 203.0.113.0/24"), "pulumi config set adminCidr 203.0.113.0/24"),
    /** Networks allowed to reach nginx's HTTP(S) listener. */
    publicCidrs: key(
        jsonList(pattern(CIDR, "an IPv4 CIDR such as 0.0.0.0/0"), "IPv4 CIDRs"),
        "pulumi config set --path 'publicCidrs[0]' 0.0.0.0/0",
        ["0.0.0.0/0"],
    ),
    /** The VPC's address range when the program creates it (a /16). */
    awsVpcCidr: key(
        pattern(CIDR_16, "a /16 such as 10.20.0.0/16"),
        "pulumi config set awsVpcCidr 10.20.0.0/16",
        "10.20.0.0/16",
    ),
    /** Use this existing VPC instead of creating one (then list its subnets too). */
    awsVpcId: key(
        pattern(AWS_ID("vpc"), "a VPC id such as vpc-0123456789abcdef0"),
        "pulumi config set awsVpcId vpc-0123456789abcdef0",
        "",
    ),
    /** Existing VPC: two public subnets (nginx), in two zones. */
    awsPublicSubnetIds: key(
        subnetIds,
        "pulumi config set --path 'awsPublicSubnetIds[0]' subnet-0123456789abcdef0",
        [] as string[],
    ),
    /** Existing VPC: two private subnets (the pools), in two zones, each a /24 or larger. */
    awsPrivateSubnetIds: key(
        subnetIds,
        "pulumi config set --path 'awsPrivateSubnetIds[0]' subnet-0123456789abcdef0",
        [] as string[],
    ),
    /** The two availability zones (default: the region's first two). */
    awsAvailabilityZones: key(
        jsonList(pattern(ZONE, "a zone name such as eu-west-1a"), "zone names"),
        "pulumi config set --path 'awsAvailabilityZones[0]' eu-west-1a",
        [] as string[],
    ),
    /** AMI name filter (the newest match is used). */
    awsAmiNameFilter: key(
        pattern(AMI_NAME_FILTER, "an AMI name pattern such as debian-12-amd64-*"),
        "pulumi config set awsAmiNameFilter 'debian-12-amd64-*'",
        "debian-12-amd64-*",
    ),
    /** The AMI owner account. Default: 136693071363 (Debian). */
    awsAmiOwner: key(
        pattern(/^(\d{12}|amazon|self)$/, "a 12-digit account id, amazon or self"),
        "pulumi config set awsAmiOwner 136693071363",
        "136693071363",
    ),
    /**
     * How many nginx instances (routers): 1, reached at its Elastic IP; or 2, in two zones behind a
     * Network Load Balancer, so that losing one instance or zone keeps the site up.
     */
    awsRouters: key(integer(1, 2), "pulumi config set awsRouters 2   (1: one nginx host, no load balancer)", 1),
    nginxInstanceType: key(instanceType("t3.micro"), "pulumi config set nginxInstanceType t3.micro", "t3.micro"),
    blueInstanceType: key(instanceType("t3.small"), "pulumi config set blueInstanceType t3.small", "t3.small"),
    greenInstanceType: key(instanceType("t3.small"), "pulumi config set greenInstanceType t3.small", "t3.small"),
} as const;

export type AwsConfig = CommonConfig & Parsed<typeof AWS_KEYS> & { readonly target: "aws" };

/**
 * An existing VPC needs its subnets, two of each kind; the pools span two zones. Two routers take
 * certificates from config, not from an ACME CA.
 */
export function awsConfigProblems(project: string, c: AwsConfig): string[] {
    const problems: string[] = [];
    if (c.awsVpcId) {
        for (const name of ["awsPublicSubnetIds", "awsPrivateSubnetIds"] as const) {
            if (c[name].length !== 2) {
                problems.push(
                    `${project}:${name} lists ${c[name].length} subnet(s): with awsVpcId, list two, in two ` +
                        `availability zones. Fix: pulumi config set --path '${name}[1]' subnet-...`,
                );
            }
        }
    } else if (c.awsPublicSubnetIds.length + c.awsPrivateSubnetIds.length > 0) {
        problems.push(
            `${project}:awsPublicSubnetIds/awsPrivateSubnetIds are set without awsVpcId: they describe an existing ` +
                "VPC. Fix: pulumi config set awsVpcId vpc-..., or remove them to let the program create the VPC",
        );
    }
    if (c.awsAvailabilityZones.length !== 0 && c.awsAvailabilityZones.length !== 2) {
        problems.push(
            `${project}:awsAvailabilityZones lists ${c.awsAvailabilityZones.length} zone(s); the pools span ` +
                "exactly two. Fix: pulumi config set --path 'awsAvailabilityZones[1]' eu-west-1b",
        );
    }
    if (c.awsRouters > 1 && c.acmeDirectoryUrl) {
        // Each router answers the CA's HTTP challenge from its own disk; the balancer may send the CA
        // to the other one.
        problems.push(
            `${project}:awsRouters is ${c.awsRouters} with acmeDirectoryUrl set: behind the load balancer the ` +
                "CA's HTTP challenge may reach a router that did not ask for it. Fix: pulumi config rm " +
                "acmeDirectoryUrl and pulumi config set --secret tlsCertificate < fullchain.pem (and tlsKey " +
                "< privkey.pem), or pulumi config set awsRouters 1",
        );
    }
    return problems;
}
