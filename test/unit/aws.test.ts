// The aws target under Pulumi mocks (no AWS account is reachable from here): what the program
// declares per colour, the security-group rules the design allows (each a policy test that
// names the URN of an offending resource), user-data that passes cloud-init's schema when
// cloud-init is installed, every pool command going through the nginx host as jump host, a
// colour switch that touches no instance, and an nginx config that passes a real `nginx -t`.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import * as pulumi from "@pulumi/pulumi";
import { appUnitText } from "../../components/appUnit";
import { AWS_APP_USER } from "../../components/targets/aws/hosts";
import { USER_DATA_LIMIT, userData } from "../../components/targets/aws/userData";
import { TEMPLATES_DIR } from "../../components/templates";
import { RecordedResource, runProgram } from "../support/mocks";
import { nginxTest as nginxCheck, selfSignedCertificate as selfSigned } from "../support/nginxCheck";

const TOKEN = "test-token-0123456789";
const PRIVATE_KEY =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F deploy@example";

const AWS: Record<string, string> = {
    target: "aws",
    activeColor: "blue",
    drainToken: TOKEN,
    sshPrivateKey: PRIVATE_KEY,
    awsPublicKey: PUBLIC_KEY,
    adminCidr: "203.0.113.0/24",
    blueHosts: "2",
    greenHosts: "2",
    publicPort: "80",
};

/** Every AWS resource a one-router stack has (what it had before routers could be two). */
const ONE_ROUTER_AWS_RESOURCES = [
    ["aws:ec2/vpc:Vpc", "network-vpc"],
    ["aws:ec2/internetGateway:InternetGateway", "network-igw"],
    ["aws:ec2/routeTable:RouteTable", "network-public"],
    ["aws:ec2/routeTable:RouteTable", "network-private"],
    ["aws:ec2/subnet:Subnet", "network-public-1"],
    ["aws:ec2/subnet:Subnet", "network-public-2"],
    ["aws:ec2/subnet:Subnet", "network-private-1"],
    ["aws:ec2/subnet:Subnet", "network-private-2"],
    ["aws:ec2/routeTableAssociation:RouteTableAssociation", "network-public-1"],
    ["aws:ec2/routeTableAssociation:RouteTableAssociation", "network-public-2"],
    ["aws:ec2/routeTableAssociation:RouteTableAssociation", "network-private-1"],
    ["aws:ec2/routeTableAssociation:RouteTableAssociation", "network-private-2"],
    ["aws:ec2/eip:Eip", "network-nat"],
    ["aws:ec2/natGateway:NatGateway", "network-nat"],
    ["aws:ec2/securityGroup:SecurityGroup", "network-nginx"],
    ["aws:ec2/securityGroup:SecurityGroup", "network-pools"],
    ["aws:ec2/keyPair:KeyPair", "machines-key"],
    ["aws:ec2/instance:Instance", "nginx"],
    ["aws:ec2/eip:Eip", "nginx"],
    ["aws:ec2/instance:Instance", "blue-1"],
    ["aws:ec2/instance:Instance", "blue-2"],
    ["aws:ec2/instance:Instance", "green-1"],
    ["aws:ec2/instance:Instance", "green-2"],
];

/** In one order whatever the registration order (the mocks register as inputs resolve). */
function sorted<T>(items: readonly T[]): T[] {
    return [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function urn(r: RecordedResource): string {
    return `urn:pulumi:unit::bluegreen::${r.type}::${r.name}`;
}

function ofType(resources: RecordedResource[], type: string): RecordedResource[] {
    return resources.filter((r) => r.type === type);
}

type Rule = {
    description?: string;
    protocol: string;
    fromPort: number;
    toPort: number;
    cidrBlocks?: string[];
    securityGroups?: string[];
};

function ingress(r: RecordedResource): Rule[] {
    return (r.inputs.ingress as Rule[] | undefined) ?? [];
}

/** Fails naming the URN of every resource `offends` picks. */
function policy(
    resources: RecordedResource[],
    rule: string,
    offends: (r: RecordedResource) => string | undefined,
): void {
    const offenders = resources.flatMap((r) => {
        const why = offends(r);
        return why ? [`${urn(r)}: ${why}`] : [];
    });
    assert.deepEqual(offenders, [], `${rule} is broken by:\n  ${offenders.join("\n  ")}`);
}

function connectionOf(r: RecordedResource): Record<string, unknown> {
    const c = r.inputs.connection as Record<string, unknown>;
    return (
        (c && "value" in c && Object.keys(c).length <= 2 ? (c as { value: Record<string, unknown> }).value : c) ?? {}
    );
}

describe("aws target (Pulumi mocks and real validators; no AWS account is reachable from here)", () => {
    let blue: RecordedResource[];
    let green: RecordedResource[];
    let outputs: Record<string, unknown>;

    before(async () => {
        const run = await runProgram(AWS);
        blue = run.resources;
        outputs = run.outputs;
        green = (await runProgram({ ...AWS, activeColor: "green" })).resources;
    });

    it("a VPC with a public and a private subnet in each of two zones, a NAT gateway, nginx with an Elastic IP", () => {
        assert.equal(ofType(blue, "aws:ec2/vpc:Vpc").length, 1);
        const subnets = ofType(blue, "aws:ec2/subnet:Subnet");
        assert.equal(subnets.length, 4);
        assert.deepEqual(new Set(subnets.map((s) => s.inputs.availabilityZone)), new Set(["eu-west-1a", "eu-west-1b"]));
        assert.equal(ofType(blue, "aws:ec2/natGateway:NatGateway").length, 1);
        const eips = ofType(blue, "aws:ec2/eip:Eip").filter((e) => e.name === "nginx");
        assert.equal(eips.length, 1, "the nginx host has an Elastic IP");
        assert.equal(eips[0].inputs.instance, "nginx-id");
    });

    it("an instance per pool host, private subnets on alternating zones, sized per colour; AMI by filter", async () => {
        const instances = ofType(blue, "aws:ec2/instance:Instance");
        assert.deepEqual(instances.map((i) => i.name).sort(), ["blue-1", "blue-2", "green-1", "green-2", "nginx"]);
        const bySize = await runProgram({
            ...AWS,
            blueHosts: "3",
            greenHosts: "1",
            blueInstanceType: "t3.medium",
            greenInstanceType: "t3.large",
        });
        const sized = ofType(bySize.resources, "aws:ec2/instance:Instance");
        assert.deepEqual(
            sized.filter((i) => i.name.startsWith("blue-")).map((i) => i.inputs.instanceType),
            ["t3.medium", "t3.medium", "t3.medium"],
        );
        assert.deepEqual(
            sized.filter((i) => i.name.startsWith("green-")).map((i) => i.inputs.instanceType),
            ["t3.large"],
        );
        for (const i of instances.filter((x) => x.name !== "nginx")) {
            assert.equal(i.inputs.associatePublicIpAddress, false, `${i.name} has no public address`);
            assert.match(String(i.inputs.subnetId), /private/, `${i.name} is in a private subnet`);
        }
        assert.notEqual(
            instances.find((i) => i.name === "blue-1")?.inputs.subnetId,
            instances.find((i) => i.name === "blue-2")?.inputs.subnetId,
            "a pool spans both zones",
        );
        for (const i of instances)
            assert.equal(i.inputs.ami, "ami-0debian12", `${i.name} uses the AMI the filter found`);
    });

    it("security groups: nginx takes HTTP(S) from the client CIDRs and SSH from the admin CIDR only", () => {
        const nginx = ofType(blue, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name.endsWith("-nginx"))!;
        const ssh = ingress(nginx).filter((r) => r.fromPort <= 22 && r.toPort >= 22);
        assert.deepEqual(
            ssh.map((r) => r.cidrBlocks),
            [["203.0.113.0/24"]],
        );
        const http = ingress(nginx).filter((r) => r.fromPort === 80);
        assert.equal(http.length, 1);
    });

    it("security groups: the pool app port and SSH are open to the nginx security group only", () => {
        const pools = ofType(blue, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name.endsWith("-pools"))!;
        const rules = ingress(pools);
        assert.deepEqual(
            rules.map((r) => [r.fromPort, r.securityGroups, r.cidrBlocks]),
            [
                [3000, ["network-nginx-id"], undefined],
                [22, ["network-nginx-id"], undefined],
            ],
        );
    });

    it("policy: nothing is open to 0.0.0.0/0 except the public HTTP(S) listener", async () => {
        const withTls = await runProgram({ ...AWS, tlsCertificate: selfSigned().cert, tlsKey: selfSigned().key });
        for (const resources of [blue, withTls.resources]) {
            policy(resources, "ingress from 0.0.0.0/0 only to HTTP(S)", (r) => {
                const open = ingress(r).filter(
                    (rule) => (rule.cidrBlocks ?? []).includes("0.0.0.0/0") && ![80, 443].includes(rule.fromPort),
                );
                return open.length
                    ? `opens ${open.map((o) => `${o.protocol}/${o.fromPort}-${o.toPort}`).join(", ")} to 0.0.0.0/0`
                    : undefined;
            });
        }
    });

    it("policy: the policy check itself fails, naming the URN, when a rule breaks it", () => {
        const bad: RecordedResource = {
            type: "aws:ec2/securityGroup:SecurityGroup",
            name: "bad",
            inputs: { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] }] },
        };
        assert.throws(
            () =>
                policy([bad], "ingress from 0.0.0.0/0 only to HTTP(S)", (r) =>
                    ingress(r).some((x) => x.cidrBlocks?.includes("0.0.0.0/0") && x.fromPort === 22)
                        ? "opens SSH"
                        : undefined,
                ),
            /urn:pulumi:unit::bluegreen::aws:ec2\/securityGroup:SecurityGroup::bad: opens SSH/,
        );
    });

    it("policy: every command and copy to a pool host goes through the nginx host as jump host", () => {
        const remote = blue.filter((r) => r.type.startsWith("command:remote:"));
        assert.ok(remote.length >= 10, "the hosts are reached with remote commands");
        const poolCommands = remote.filter((r) => /^(blue|green)-|^reach-(blue|green)-/.test(r.name));
        assert.ok(poolCommands.length >= 8);
        policy(poolCommands, "pool hosts only through the jump host", (r) => {
            const c = connectionOf(r);
            const proxy = c.proxy as Record<string, unknown> | undefined;
            if (!proxy) return "connects without a proxy";
            if (proxy.host !== "203.0.113.10") return `proxy is ${String(proxy.host)}, not the nginx host's Elastic IP`;
            if (!/^10\.20\.1[12]\.\d+$/.test(String(c.host)))
                return `connects to ${String(c.host)}, not a private address`;
            return undefined;
        });
        const router = remote.find((r) => r.name === "router-nginx")!;
        assert.equal(connectionOf(router).host, "203.0.113.10", "the router is reached at the Elastic IP");
    });

    it("hooks run on the first host of the pool going live, through the nginx host as jump host", async () => {
        const hooked = (await runProgram({ ...AWS, preSwitchCommand: "node migrate.js", postSwitchCommand: "./n" }))
            .resources;
        for (const name of ["pre-switch-hook", "post-switch-hook"]) {
            const hook = hooked.find((r) => r.name === name);
            assert.equal(hook?.type, "command:remote:Command", name);
            const c = connectionOf(hook);
            assert.equal((c.proxy as Record<string, unknown>).host, "203.0.113.10", `${name}: through the jump host`);
            const blue1 = hooked.find((r) => r.name === "blue-host-1");
            assert.equal(c.host, connectionOf(blue1!).host, `${name}: on blue-1`);
        }
    });

    it("each artifact copy sends a FileAsset (tarball) or FileArchive (dir), as the plugin requires", async () => {
        // Mocks do not run the plugin's own checks: it refuses any other source (an AssetArchive, say).
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-aws-"));
        const tarball = path.join(dir, "app-2.0.0.tgz");
        spawnSync("tar", ["-czf", tarball, "-C", path.resolve(__dirname, "..", "..", "app"), "."]);
        const withTarball = (await runProgram({ ...AWS, greenArtifact: tarball, greenVersion: "2.0.0" })).resources;
        fs.rmSync(dir, { recursive: true, force: true });
        const copies = withTarball.filter((r) => r.type === "command:remote:CopyToRemote");
        assert.equal(copies.length, 4, "one copy per pool host");
        const expected = (r: RecordedResource) =>
            r.name.startsWith("green-") ? pulumi.asset.FileAsset : pulumi.asset.FileArchive;
        // The asset's path is a promise under mocks.
        const paths = new Map(
            await Promise.all(
                copies.map(async (r) => [r, String(await (r.inputs.source as { path?: unknown }).path)] as const),
            ),
        );
        policy(copies, "artifact copies send a file or a directory", (r) => {
            const source = r.inputs.source;
            if (!(source instanceof expected(r)))
                return `source is ${JSON.stringify(source)}, not a ${expected(r).name}`;
            const sourcePath = paths.get(r) ?? "";
            const remotePath = String(r.inputs.remotePath);
            if (source instanceof pulumi.asset.FileAsset)
                return /\/artifact\.tgz$/.test(remotePath) ? undefined : `the tarball goes to ${remotePath}`;
            // A directory with a trailing slash lands as remotePath itself (the plugin's rule).
            return sourcePath.endsWith("/") && remotePath.endsWith("/artifact")
                ? undefined
                : `${sourcePath} goes to ${remotePath}`;
        });
    });

    it("a colour switch changes no instance, subnet, security group or address: only the router's commands", () => {
        const awsTypes = (rs: RecordedResource[]) => rs.filter((r) => r.type.startsWith("aws:"));
        assert.deepEqual(
            awsTypes(green).map((r) => [r.type, r.name, r.inputs]),
            awsTypes(blue).map((r) => [r.type, r.name, r.inputs]),
            "every AWS resource has the same inputs for either colour",
        );
        const changed = green.filter((g) => {
            const b = blue.find((x) => x.type === g.type && x.name === g.name);
            return JSON.stringify(b?.inputs) !== JSON.stringify(g.inputs);
        });
        assert.deepEqual(changed.map((r) => r.name).sort(), ["gate-check", "router-nginx"]);
    });

    it("user-data comes from templates/cloud-init and passes cloud-init's schema (if cloud-init is installed)", () => {
        const instances = ofType(blue, "aws:ec2/instance:Instance");
        for (const i of instances) {
            const data = String(i.inputs.userData);
            assert.match(data, /^#cloud-config\n/);
            assert.match(data, /AcceptEnv BLUEGREEN_\*/, `${i.name} accepts the program's variables over SSH`);
            assert.match(
                data,
                new RegExp(PUBLIC_KEY.split(" ")[1].replace(/[+/]/g, "\\$&")),
                `${i.name} lets the app user log in with the configured key`,
            );
            if (i.name === "nginx") assert.match(data, /libnginx-mod-http-lua/);
            else
                assert.match(
                    data,
                    new RegExp(
                        "path: /etc/systemd/system/bluegreen-app\\.service[\\s\\S]*" +
                            "ExecStart=/bin/sh -c 'set -a && \\. /srv/bluegreen/app/app\\.env " +
                            "&& exec node server\\.js >>/srv/bluegreen/app/app\\.log 2>&1'",
                    ),
                );
        }
        const cloudInit = spawnSync("cloud-init", ["--version"], { encoding: "utf8" });
        if (cloudInit.status !== 0 && process.env.BLUEGREEN_REQUIRE_VALIDATORS)
            assert.fail(
                "cloud-init must be installed here (BLUEGREEN_REQUIRE_VALIDATORS is set): apt-get install cloud-init",
            );
        if (cloudInit.status !== 0) {
            console.log("      (cloud-init is not installed: its schema check did not run)");
            return;
        }
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "user-data-"));
        for (const i of instances) {
            const file = path.join(dir, `${i.name}.yaml`);
            fs.writeFileSync(file, String(i.inputs.userData));
            const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
            assert.equal(
                result.status,
                0,
                `${i.name} user-data fails cloud-init schema: ${result.stdout}${result.stderr}`,
            );
        }
        // The check can fail: a user-data with a wrong type is reported.
        const broken = path.join(dir, "broken.yaml");
        fs.writeFileSync(broken, "#cloud-config\npackages: 5\n");
        const bad = spawnSync("cloud-init", ["schema", "--config-file", broken], { encoding: "utf8" });
        assert.notEqual(bad.status, 0, "cloud-init schema rejects a wrong type");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("sudo names only the root helper: no systemctl, tee, rm, nginx or ALL in the app user's rules", () => {
        const instances = ofType(blue, "aws:ec2/instance:Instance");
        assert.equal(instances.length, 5);
        for (const i of instances) {
            const data = String(i.inputs.userData);
            const sudoers = writtenFile(data, "/etc/sudoers.d/50-bluegreen");
            assert.equal(sudoers.permissions, "0440", `${i.name}: sudoers file mode`);
            assert.equal(sudoers.owner, "root:root");
            assert.equal(
                sudoers.content,
                "bluegreen ALL=(root) NOPASSWD: /usr/local/sbin/bluegreen-root\n",
                `${i.name}: one rule, one command`,
            );
            // No other sudo rule anywhere in the user-data (a second file, a rule with a command list).
            assert.deepEqual(data.match(/NOPASSWD/g), ["NOPASSWD"], `${i.name}: one NOPASSWD rule`);
            assert.doesNotMatch(data, /NOPASSWD:[^\n]*(,|\bALL\b|systemctl|tee|nginx|\brm\b)/, i.name);
        }
    });

    it("the root helper: root's, mode 0755, templates/root/bluegreen-root.sh as it is; its settings", () => {
        const helperText = fs.readFileSync(path.join(TEMPLATES_DIR, "root", "bluegreen-root.sh"), "utf8");
        for (const i of ofType(blue, "aws:ec2/instance:Instance")) {
            const data = String(i.inputs.userData);
            const helper = writtenFile(data, "/usr/local/sbin/bluegreen-root");
            assert.equal(helper.permissions, "0755", `${i.name}: helper mode`);
            assert.equal(helper.owner, "root:root", `${i.name}: helper owner`);
            assert.equal(helper.content, helperText, `${i.name}: the helper is the template's text, unpacked`);
            const settings = writtenFile(data, "/etc/bluegreen/root.conf");
            assert.equal(settings.owner, "root:root");
            assert.equal(settings.permissions, "0644");
            const role = i.name === "nginx" ? "nginx" : "pool";
            assert.deepEqual(
                settings.content.split("\n").filter((line) => line && !line.startsWith("#")),
                ["user=bluegreen", "dir=/srv/bluegreen", `role=${role}`],
                `${i.name}: the helper's settings`,
            );
        }
    });

    it("user-data stays under EC2's 16 KiB with every value at the longest its config key allows", () => {
        const longest = {
            user: AWS_APP_USER,
            // A long RSA key (the pattern allows 1024 base64 characters and a 100-character comment).
            publicKey: `ssh-rsa ${"A".repeat(1024)}== ${"c".repeat(100)}`,
            remoteDir: `/${"d".repeat(200)}`,
        };
        const host = {
            name: "green-50",
            color: "green" as const,
            workDir: `${longest.remoteDir}/app`,
            user: "bluegreen",
        };
        const unit = appUnitText(host, "x".repeat(200), 600);
        const sizes = [userData("nginx", longest, true), userData("green-50", longest, false, unit)].map((text) =>
            Buffer.byteLength(text),
        );
        for (const size of sizes) assert.ok(size <= USER_DATA_LIMIT, `${size} bytes of user-data`);
        // Past the limit it fails at preview, naming the host and the limit, not at AWS's API.
        assert.throws(
            () => userData("blue-1", longest, false, "#".repeat(USER_DATA_LIMIT)),
            /the blue-1 host's user-data is \d+ bytes, over EC2's limit of 16384/,
        );
    });

    it("the router's nginx unit runs nginx as the app user, not root", () => {
        const unit = envOf(blue.find((r) => r.name === "router-nginx")!).NGINX_UNIT_TEXT;
        assert.match(unit, /^User=bluegreen$/m);
        assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
        assert.match(unit, /^ExecStart=nginx -p \/srv\/bluegreen\/nginx\/ /m);
    });

    it("the rendered nginx config passes a real nginx -t with and without TLS; no ssl listener without a cert", () => {
        const router = blue.find((r) => r.name === "router-nginx")!;
        const plain = envOf(router).NGINX_CONF;
        assert.doesNotMatch(plain, /\bssl\b/, "no ssl listener is rendered without a certificate");
        assert.equal(nginxTest(plain), "");
    });

    it("outputs name the nginx host's public address", () => {
        assert.equal(outputs.publicUrl, "http://203.0.113.10:80");
    });

    it("one router (the default, or awsRouters 1): no load balancer, and every AWS resource as before", async () => {
        const aws = (rs: RecordedResource[]) =>
            rs.filter((r) => r.type.startsWith("aws:")).map((r) => [r.type, r.name]);
        assert.deepEqual(aws(blue).sort(), [...ONE_ROUTER_AWS_RESOURCES].sort(), "the same resources, the same names");
        assert.ok(!blue.some((r) => r.type.startsWith("aws:lb/") || r.type === "bluegreen:aws:LoadBalancer"));
        const nginx = ofType(blue, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "network-nginx")!;
        assert.deepEqual(ingress(nginx)[0], {
            description: "clients to nginx :80",
            protocol: "tcp",
            fromPort: 80,
            toPort: 80,
            cidrBlocks: ["0.0.0.0/0"],
        });
        const instance = ofType(blue, "aws:ec2/instance:Instance").find((i) => i.name === "nginx")!;
        assert.deepEqual([instance.inputs.subnetId, instance.inputs.privateIp], ["network-public-1-id", "10.20.1.10"]);
        assert.deepEqual(
            blue.filter((r) => /^(reach-|router-)nginx/.test(r.name)).map((r) => r.name),
            ["reach-nginx", "router-nginx"],
            "one router: its check and its switch under their old names, no confirmation",
        );
        const explicit = (await runProgram({ ...AWS, awsRouters: "1" })).resources;
        assert.deepEqual(
            explicit.map((r) => [r.type, r.name, r.inputs]),
            blue.map((r) => [r.type, r.name, r.inputs]),
            "awsRouters 1 registers exactly what the default does",
        );
    });
});

/** What AWS assigns (the shared mocks leave it out): the balancer's name, ARNs, an address per router. */
const LB_DNS_NAME = "routers-0123456789abcdef.elb.eu-west-1.amazonaws.com";
const ROUTER_IPS: Record<string, string> = { "nginx-1": "203.0.113.11", "nginx-2": "203.0.113.12" };

/** runProgram with two routers, and AWS's answers for the load balancer's resources added to the shared mocks. */
async function runTwoRouters(
    config: Record<string, string>,
): Promise<{ resources: RecordedResource[]; outputs: Record<string, unknown> }> {
    const runtime = pulumi.runtime as { setMocks: typeof pulumi.runtime.setMocks };
    const setMocks = runtime.setMocks;
    runtime.setMocks = (mocks, ...rest) =>
        setMocks(
            {
                call: (args) => mocks.call(args),
                async newResource(args) {
                    const created = await mocks.newResource(args);
                    const assigned = {
                        ...(args.type.startsWith("aws:lb/")
                            ? { arn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:${args.name}` }
                            : {}),
                        ...(args.type === "aws:lb/loadBalancer:LoadBalancer" ? { dnsName: LB_DNS_NAME } : {}),
                        ...(args.type === "aws:ec2/eip:Eip" && ROUTER_IPS[args.name]
                            ? { publicIp: ROUTER_IPS[args.name] }
                            : {}),
                    };
                    return { ...created, state: { ...created.state, ...assigned } };
                },
            },
            ...rest,
        );
    try {
        return await runProgram({ ...AWS, awsRouters: "2", ...config });
    } finally {
        runtime.setMocks = setMocks;
    }
}

describe("aws target with two routers behind a Network Load Balancer (mocks)", () => {
    let two: RecordedResource[];
    let outputs: Record<string, unknown>;
    let green: RecordedResource[];
    let tls: RecordedResource[];
    const named = (rs: RecordedResource[], type: string, name: string) =>
        ofType(rs, type).find((r) => r.name === name)!;

    before(async () => {
        const run = await runTwoRouters({});
        two = run.resources;
        outputs = run.outputs;
        green = (await runTwoRouters({ activeColor: "green" })).resources;
        const { cert, key } = selfSigned();
        tls = (await runTwoRouters({ tlsCertificate: cert, tlsKey: key })).resources;
    });

    it("a network load balancer, internet-facing, in both public subnets, cross-zone, with its own group", () => {
        const balancers = ofType(two, "aws:lb/loadBalancer:LoadBalancer");
        assert.equal(balancers.length, 1);
        const lb = balancers[0].inputs;
        assert.equal(lb.loadBalancerType, "network");
        assert.equal(lb.internal, false);
        assert.deepEqual(lb.subnets, ["network-public-1-id", "network-public-2-id"]);
        assert.deepEqual(lb.securityGroups, ["network-lb-id"]);
        assert.equal(lb.enableCrossZoneLoadBalancing, true);
    });

    it("two nginx instances, one in each zone's public subnet, each with its own Elastic IP", () => {
        const instances = ofType(two, "aws:ec2/instance:Instance").filter((i) => /^nginx/.test(i.name));
        assert.deepEqual(instances.map((i) => i.name).sort(), ["nginx-1", "nginx-2"]);
        const zoneOf = (subnetId: unknown) =>
            ofType(two, "aws:ec2/subnet:Subnet").find((s) => `${s.name}-id` === subnetId)?.inputs.availabilityZone;
        const placed = ["nginx-1", "nginx-2"].map((name) => {
            const i = named(two, "aws:ec2/instance:Instance", name).inputs;
            return [i.subnetId, zoneOf(i.subnetId), i.privateIp, i.vpcSecurityGroupIds];
        });
        assert.deepEqual(placed, [
            ["network-public-1-id", "eu-west-1a", "10.20.1.10", ["network-nginx-id"]],
            ["network-public-2-id", "eu-west-1b", "10.20.2.10", ["network-nginx-id"]],
        ]);
        for (const name of ["nginx-1", "nginx-2"]) {
            const data = String(named(two, "aws:ec2/instance:Instance", name).inputs.userData);
            assert.match(data, /libnginx-mod-http-lua/, `${name} gets nginx`);
            const settings = writtenFile(data, "/etc/bluegreen/root.conf").content;
            assert.match(settings, /^role=nginx$/m, `${name}: the root helper starts nginx's unit there`);
        }
        const eips = ofType(two, "aws:ec2/eip:Eip").filter((e) => e.name !== "network-nat");
        assert.deepEqual(eips.map((e) => [e.name, e.inputs.instance]).sort(), [
            ["nginx-1", "nginx-1-id"],
            ["nginx-2", "nginx-2-id"],
        ]);
    });

    it("a TCP target group and listener per public port, health-checked on nginx's listener", () => {
        const expectedCheck = {
            enabled: true,
            protocol: "TCP",
            port: "traffic-port",
            interval: 5,
            timeout: 3,
            unhealthyThreshold: 2,
            healthyThreshold: 2,
        };
        for (const [resources, ports] of [
            [two, [80]],
            [tls, [80, 443]],
        ] as const) {
            const groups = ofType(resources, "aws:lb/targetGroup:TargetGroup");
            assert.deepEqual(sorted(groups.map((g) => g.inputs.port)), sorted(ports));
            for (const g of groups) {
                assert.equal(g.inputs.protocol, "TCP", g.name);
                assert.equal(g.inputs.targetType, "instance", g.name);
                assert.equal(g.inputs.preserveClientIp, "true", `${g.name}: nginx sees the client's address`);
                assert.deepEqual(g.inputs.healthCheck, expectedCheck, g.name);
            }
            const listeners = ofType(resources, "aws:lb/listener:Listener");
            assert.deepEqual(
                sorted(listeners.map((l) => [l.inputs.port, l.inputs.protocol, l.inputs.loadBalancerArn])),
                sorted(
                    ports.map((port) => [port, "TCP", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:routers"]),
                ),
            );
            for (const l of listeners) {
                const group = groups.find((g) => g.inputs.port === l.inputs.port)!;
                assert.deepEqual(
                    l.inputs.defaultActions,
                    [
                        {
                            type: "forward",
                            targetGroupArn: `arn:aws:elasticloadbalancing:eu-west-1:123456789012:${group.name}`,
                        },
                    ],
                    `the listener on ${String(l.inputs.port)} forwards to its own port's group`,
                );
            }
        }
    });

    it("both instances are targets of every group, on its port", () => {
        for (const [resources, ports] of [
            [two, [80]],
            [tls, [80, 443]],
        ] as const) {
            const attachments = ofType(resources, "aws:lb/targetGroupAttachment:TargetGroupAttachment").map((a) => [
                a.inputs.targetGroupArn,
                a.inputs.targetId,
                a.inputs.port,
            ]);
            assert.deepEqual(
                sorted(attachments),
                sorted(
                    ports.flatMap((port) =>
                        ["nginx-1-id", "nginx-2-id"].map((id) => [
                            `arn:aws:elasticloadbalancing:eu-west-1:123456789012:routers-${port}`,
                            id,
                            port,
                        ]),
                    ),
                ),
            );
        }
    });

    it("security groups: nginx takes the listener ports from the balancer's group only; it takes clients", () => {
        for (const [resources, ports] of [
            [two, [80]],
            [tls, [80, 443]],
        ] as const) {
            const groups = ofType(resources, "aws:ec2/securityGroup:SecurityGroup");
            const nginx = groups.find((g) => g.name === "network-nginx")!;
            assert.deepEqual(
                ingress(nginx).map((r) => [r.fromPort, r.toPort, r.securityGroups, r.cidrBlocks]),
                [
                    ...ports.map((port) => [port, port, ["network-lb-id"], undefined]),
                    [22, 22, undefined, ["203.0.113.0/24"]],
                ],
                "listener ports from the balancer's group only, SSH from the admin network",
            );
            const lb = groups.find((g) => g.name === "network-lb")!;
            assert.deepEqual(
                ingress(lb).map((r) => [r.fromPort, r.toPort, r.cidrBlocks, r.securityGroups]),
                ports.map((port) => [port, port, ["0.0.0.0/0"], undefined]),
            );
            assert.deepEqual(
                (lb.inputs.egress as Rule[]).map((r) => [r.fromPort, r.toPort, r.cidrBlocks]),
                ports.map((port) => [port, port, ["10.20.1.0/24", "10.20.2.0/24"]]),
                "the balancer sends only to the routers' subnets, on the listener ports",
            );
            const pools = groups.find((g) => g.name === "network-pools")!;
            assert.ok(ingress(pools).every((r) => r.securityGroups?.[0] === "network-nginx-id" && !r.cidrBlocks));
            policy(resources, "ingress from 0.0.0.0/0 only to HTTP(S)", (r) => {
                const open = ingress(r).filter(
                    (rule) => (rule.cidrBlocks ?? []).includes("0.0.0.0/0") && ![80, 443].includes(rule.fromPort),
                );
                return open.length ? `opens ${open.map((o) => o.fromPort).join(", ")} to 0.0.0.0/0` : undefined;
            });
        }
        return runTwoRouters({ publicCidrs: JSON.stringify(["198.51.100.0/24"]) }).then(({ resources }) => {
            const lb = ofType(resources, "aws:ec2/securityGroup:SecurityGroup").find((g) => g.name === "network-lb")!;
            assert.deepEqual(
                ingress(lb).map((r) => r.cidrBlocks),
                [["198.51.100.0/24"]],
                "publicCidrs open the balancer",
            );
        });
    });

    it("both routers are checked, switched and confirmed, each at its Elastic IP; the first is the jump host", () => {
        const remote = two.filter((r) => r.type.startsWith("command:remote:"));
        for (const [router, ip] of Object.entries(ROUTER_IPS)) {
            for (const name of [`reach-${router}`, `router-${router}`, `router-${router}-confirm`]) {
                const command = remote.find((r) => r.name === name);
                assert.ok(command, `${name} is registered`);
                assert.equal(connectionOf(command).host, ip, `${name} logs in at ${router}'s Elastic IP`);
            }
            assert.equal(envOf(remote.find((r) => r.name === `router-${router}`)!).ROUTER_NAME, router);
        }
        assert.ok(!remote.some((r) => r.name === "router-nginx"), "no single router's switch");
        const poolCommands = remote.filter((r) => /^(blue|green)-|^reach-(blue|green)-/.test(r.name));
        assert.ok(poolCommands.length >= 8);
        policy(poolCommands, "pool hosts only through the first router", (r) => {
            const proxy = connectionOf(r).proxy as Record<string, unknown> | undefined;
            return proxy?.host === "203.0.113.11" ? undefined : `proxy is ${String(proxy?.host)}, not nginx-1's`;
        });
        assert.equal(connectionOf(remote.find((r) => r.name === "gate-check")!).host, "203.0.113.11");
    });

    it("the public entry point is the balancer's DNS name: publicUrl, and the Host the gate sends", () => {
        assert.equal(outputs.publicUrl, `http://${LB_DNS_NAME}:80`);
        assert.equal(envOf(two.find((r) => r.name === "gate-check")!).HOST_HEADER, LB_DNS_NAME);
    });

    it("a colour switch changes no AWS resource: only the gate, both routers' switches and their checks", () => {
        const awsTypes = (rs: RecordedResource[]) => rs.filter((r) => r.type.startsWith("aws:"));
        assert.deepEqual(
            awsTypes(green).map((r) => [r.type, r.name, r.inputs]),
            awsTypes(two).map((r) => [r.type, r.name, r.inputs]),
        );
        const changed = green.filter((g) => {
            const b = two.find((x) => x.type === g.type && x.name === g.name);
            return JSON.stringify(b?.inputs) !== JSON.stringify(g.inputs);
        });
        // Several routers are checked again whenever the switch runs (before any of them changes).
        assert.deepEqual(changed.map((r) => r.name).sort(), [
            "gate-check",
            "reach-nginx-1",
            "reach-nginx-2",
            "router-nginx-1",
            "router-nginx-2",
        ]);
    });

    it("what `pulumi preview` would list: the load balancer, its parts and both routers", () => {
        // Evidence from the mocks' registration list (every resource the program registers, which a
        // preview of a new stack lists as a create), not from a real `pulumi preview`: no AWS account
        // is reachable from here. (A dry run under the mocks never resolves the outputs runProgram awaits.)
        const resources = two;
        const names = new Set(resources.map((r) => `${r.type}::${r.name}`));
        for (const expected of [
            "bluegreen:aws:LoadBalancer::routers",
            "aws:lb/loadBalancer:LoadBalancer::routers",
            "aws:lb/targetGroup:TargetGroup::routers-80",
            "aws:lb/listener:Listener::routers-80",
            "aws:lb/targetGroupAttachment:TargetGroupAttachment::routers-80-nginx-1",
            "aws:lb/targetGroupAttachment:TargetGroupAttachment::routers-80-nginx-2",
            "aws:ec2/securityGroup:SecurityGroup::network-lb",
            "aws:ec2/instance:Instance::nginx-1",
            "aws:ec2/instance:Instance::nginx-2",
            "command:remote:Command::router-nginx-1",
            "command:remote:Command::router-nginx-2",
            "command:remote:Command::router-nginx-1-confirm",
            "command:remote:Command::router-nginx-2-confirm",
        ])
            assert.ok(names.has(expected), `the preview shows ${expected}`);
    });

    it("awsRouters: 1 or 2; an ACME CA is refused with two routers, naming the keys and the fix", async () => {
        for (const bad of ["3", "0", "two"]) {
            await assert.rejects(
                runProgram({ ...AWS, awsRouters: bad }),
                (err: Error) =>
                    /bluegreen:awsRouters has the invalid value .*Fix: pulumi config set awsRouters 2/.test(
                        err.message,
                    ),
                bad,
            );
        }
        await assert.rejects(
            runProgram({ ...AWS, awsRouters: "2", acmeDirectoryUrl: "https://acme.example.test/directory" }),
            /bluegreen:awsRouters is 2 with acmeDirectoryUrl set: .*Fix: pulumi config rm acmeDirectoryUrl/,
        );
    });
});

describe("aws target: existing VPC and config checks", () => {
    it("an existing VPC by id: no VPC or subnet created, hosts get fixed addresses in the given subnets", async () => {
        const run = await runProgram({
            ...AWS,
            awsVpcId: "vpc-0123456789abcdef0",
            awsPublicSubnetIds: JSON.stringify(["subnet-00000000000000001", "subnet-00000000000000002"]),
            awsPrivateSubnetIds: JSON.stringify(["subnet-00000000000000011", "subnet-00000000000000012"]),
        });
        assert.equal(ofType(run.resources, "aws:ec2/vpc:Vpc").length, 0);
        assert.equal(ofType(run.resources, "aws:ec2/subnet:Subnet").length, 0);
        const groups = ofType(run.resources, "aws:ec2/securityGroup:SecurityGroup");
        assert.ok(
            groups.every((g) => g.inputs.vpcId === "vpc-0123456789abcdef0"),
            "security groups are made in the given VPC",
        );
        const instances = Object.fromEntries(
            ofType(run.resources, "aws:ec2/instance:Instance").map((i) => [i.name, i.inputs]),
        );
        assert.equal(instances.nginx.privateIp, "10.50.1.10");
        // Private subnets ...11 (0x11 = 17, zone a) and ...12 (18, zone b).
        assert.deepEqual(
            [instances["blue-1"].privateIp, instances["blue-2"].privateIp, instances["green-1"].privateIp],
            ["10.50.17.11", "10.50.18.12", "10.50.17.111"],
        );
        assert.equal(instances["blue-2"].subnetId, "subnet-00000000000000012");
    });

    it("the aws target needs its key pair and admin network; subnets without a VPC id are refused", async () => {
        const { awsPublicKey: _k, adminCidr: _a, ...missing } = AWS;
        const refused = await runProgram(missing).then(
            () => "",
            (err: Error) => err.message,
        );
        assert.match(refused, /bluegreen:awsPublicKey is not set\. Fix: pulumi config set awsPublicKey/);
        assert.match(refused, /bluegreen:adminCidr is not set\. Fix: pulumi config set adminCidr 203\.0\.113\.0\/24/);
        await assert.rejects(
            runProgram({ ...AWS, adminCidr: "0.0.0.0/0; curl evil" }),
            /bluegreen:adminCidr has the invalid value/,
        );
        await assert.rejects(
            runProgram({ ...AWS, awsPrivateSubnetIds: JSON.stringify(["subnet-00000000000000011"]) }),
            /awsPublicSubnetIds\/awsPrivateSubnetIds are set without awsVpcId/,
        );
    });
});

describe("aws target with TLS", () => {
    it("a certificate and key enable the 443 listener, and the config passes nginx -t with them in place", async () => {
        const { cert, key } = selfSigned();
        const run = await runProgram({ ...AWS, tlsCertificate: cert, tlsKey: key });
        const router = run.resources.find((r) => r.name === "router-nginx")!;
        const env = envOf(router);
        assert.match(env.NGINX_CONF, /listen 0\.0\.0\.0:443 ssl default_server;/);
        assert.equal(env.TLS_CERTIFICATE, cert);
        const group = ofType(run.resources, "aws:ec2/securityGroup:SecurityGroup").find((g) =>
            g.name.endsWith("-nginx"),
        )!;
        assert.ok(
            ingress(group).some((r) => r.fromPort === 443),
            "443 is open to clients",
        );
        assert.equal(nginxTest(env.NGINX_CONF, { cert, key }), "");
    });

    it("a certificate without its key is refused at preview, naming both keys", async () => {
        await assert.rejects(
            runProgram({ ...AWS, tlsCertificate: selfSigned().cert }),
            /bluegreen:tlsCertificate and bluegreen:tlsKey go together/,
        );
    });
});

/**
 * One write_files entry of our user-data (its block-scalar content without the indentation).
 * Not a YAML parser: it reads the shape templates/cloud-init/host.yaml.hbs writes, and fails
 * when that shape is not there; cloud-init's own schema check and the root helper's template
 * test (which reads the user-data with cloud-init's YAML library) read it fully.
 */
function writtenFile(data: string, file: string): { owner?: string; permissions?: string; content: string } {
    const lines = data.split("\n");
    const start = lines.indexOf(`  - path: ${file}`);
    assert.notEqual(start, -1, `user-data writes ${file}`);
    const entry: { owner?: string; permissions?: string; encoding?: string } = {};
    let i = start + 1;
    for (; i < lines.length && lines[i].startsWith("    ") && !lines[i].startsWith("    content:"); i++) {
        const [key, value] = lines[i].trim().split(": ");
        if (key === "owner") entry.owner = value;
        if (key === "permissions") entry.permissions = JSON.parse(value) as string;
        if (key === "encoding") entry.encoding = value;
    }
    if (entry.encoding !== undefined) {
        // One line of base64, as cloud-init's gz+b64 takes it.
        assert.equal(entry.encoding, "gz+b64", `${file}: an encoding cloud-init reads`);
        const encoded = /^ {4}content: ([A-Za-z0-9+/=]+)$/.exec(lines[i])?.[1];
        assert.ok(encoded, `${file}: base64 content on one line`);
        return { ...entry, content: gunzipSync(Buffer.from(encoded, "base64")).toString("utf8") };
    }
    assert.equal(lines[i], "    content: |", `${file}: a block of text`);
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i] === "" || lines[i].startsWith("      ")); i++) body.push(lines[i].slice(6));
    while (body.length > 0 && body[body.length - 1] === "") body.pop();
    return { ...entry, content: `${body.join("\n")}\n` };
}

function envOf(r: RecordedResource): Record<string, string> {
    const env = r.inputs.environment as Record<string, unknown>;
    const sent = (
        env && "value" in env && Object.keys(env).length <= 2 ? (env as { value: Record<string, string> }).value : env
    ) as Record<string, string>;
    return Object.fromEntries(Object.entries(sent).map(([k, v]) => [k.replace(/^BLUEGREEN_/, ""), v]));
}

/** `nginx -t` of a config rendered for the aws host, on free ports (80/443 need root and may be taken). */
function nginxTest(text: string, tls?: { cert: string; key: string }): string {
    return nginxCheck(
        text
            .replace(/:80 /g, ":18080 ")
            .replace(/:80;/g, ":18080;")
            .replace(/:443 ssl /g, ":18443 ssl "),
        "/srv/bluegreen/nginx",
        tls,
    );
}
