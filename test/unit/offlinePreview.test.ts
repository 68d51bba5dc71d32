// The pull-request preview without credentials (scripts/ci/offline-preview.ts): production's committed
// stack config read with secrets as placeholders, the program of a base and a head checkout run under
// mocks, and the summary of what the head changes. The checkouts here are directories holding a
// Pulumi.production.yaml and a link to this project's index.ts.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { lineDiff, offlinePreview, stackConfig } from "../../scripts/ci/offline-preview";

const ROOT = path.resolve(__dirname, "..", "..");
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F deploy@example";

/** A production stack file like Pulumi.production.yaml, placeholders filled in, `extra` lines appended. */
function productionYaml(extra: string[] = []): string {
    return [
        "config:",
        "  aws:region: eu-west-1",
        "  bluegreen:target: aws",
        "  bluegreen:activeColor: blue",
        `  bluegreen:awsPublicKey: ${PUBLIC_KEY}`,
        "  bluegreen:adminCidr: 203.0.113.0/24",
        '  bluegreen:publicCidrs: ["0.0.0.0/0"]',
        '  bluegreen:blueHosts: "2"',
        '  bluegreen:greenHosts: "2"',
        "  bluegreen:drainToken:",
        "    secure: v1:AAAAAAAAAAAAAAAA:c2VjcmV0LW5vdC1yZWFk",
        ...extra,
        "",
    ].join("\n");
}

describe("offline preview of production for pull requests (no credentials)", function () {
    let dir: string;

    function checkout(name: string, yaml: string): string {
        const at = path.join(dir, name);
        fs.mkdirSync(at);
        fs.symlinkSync(path.join(ROOT, "index.ts"), path.join(at, "index.ts"));
        fs.writeFileSync(path.join(at, "Pulumi.production.yaml"), yaml);
        return at;
    }

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-offline-preview-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads the committed config: secrets become placeholders, structured values JSON, providers skipped", () => {
        const config = stackConfig(checkout("head", productionYaml(["  bluegreen:tlsKey:", "    secure: v1:x"])));
        assert.equal(config.drainToken, "offline-preview-placeholder");
        assert.match(config.tlsKey, /^-----BEGIN PRIVATE KEY-----\n/);
        assert.match(config.sshPrivateKey, /^-----BEGIN PRIVATE KEY-----\n/, "the aws target requires one");
        assert.equal(config.publicCidrs, '["0.0.0.0/0"]');
        assert.equal(config.blueHosts, "2");
        assert.deepEqual(
            Object.keys(config).filter((k) => k.includes("region")),
            [],
            "aws:region is skipped",
        );
        assert.ok(!Object.values(config).some((v) => v.includes("v1:")), "no ciphertext reaches the program");
    });

    it("a line diff shows changes with context and elides the rest", () => {
        const before = ["a", "b", "c", "d", "e", "f", "g", "h"].join("\n");
        assert.deepEqual(lineDiff(before, before), []);
        assert.deepEqual(lineDiff(before, before.replace("e", "E"), 1), ["  ...", "  d", "- e", "+ E", "  f", "  ..."]);
        assert.deepEqual(lineDiff("", "x\ny"), ["+ x", "+ y"]);
        assert.deepEqual(lineDiff("a\nb", "a"), ["  a", "- b"]);
    });

    it("a switch and a larger idle pool: the Plan line, the live pool and the nginx lines that change", async () => {
        const base = checkout("base", productionYaml());
        const head = checkout(
            "head",
            productionYaml()
                .replace("activeColor: blue", "activeColor: green")
                .replace('greenHosts: "2"', 'greenHosts: "3"'),
        );
        const { text, code } = await offlinePreview(base, head);
        assert.equal(code, 0, text);
        assert.match(
            text,
            /^Plan: traffic blue \(1\.0\.0\) -> green \(1\.0\.0\), gated on green-1, green-2, green-3;/m,
        );
        assert.match(text, /^Live pool: blue → green$/m);
        assert.match(text, /^\+ +server 10\.20\.11\.113:3000 /m, "the new green host's upstream line");
        assert.match(text, /^- # config-id: [0-9a-f]{16}$/m);
        assert.doesNotMatch(text, /could not be rendered/);
    });

    it("two routers behind a load balancer: the balancer, both routers and their steps are listed", async () => {
        const base = checkout("base", productionYaml());
        const head = checkout("head", productionYaml(['  bluegreen:awsRouters: "2"']));
        const { text, code } = await offlinePreview(base, head);
        assert.equal(code, 0, text);
        const added = text.split("Resources this pull request adds:")[1]?.split("\n\n")[1] ?? "";
        assert.match(added, /^- \S+ \(aws:lb\/loadBalancer:LoadBalancer\)$/m, text);
        assert.match(added, /^- \S+ \(aws:lb\/listener:Listener\)$/m);
        assert.match(added, /^- \S+ \(aws:lb\/targetGroupAttachment:TargetGroupAttachment\)$/m);
        assert.match(added, /^- router-nginx-2 \(command:remote:Command\)$/m);
        for (const router of ["nginx-1", "nginx-2"])
            assert.match(added, new RegExp(`^- router-${router}-confirm \\(command:remote:Command\\)$`, "m"));
        assert.match(added, /^- \S*nginx-2\S* \(aws:ec2\/instance:Instance\)$/m, "the second router's instance");
        // The single router's instance and switch become the first router's, kept (not replaced).
        const removed = text.split("Resources this pull request removes:")[1]?.split("\n\n")[1] ?? "";
        assert.equal(removed, "- reach-nginx (command:remote:Command)", "only the single router's check");
        const renamed = text.split("Resources this pull request renames")[1] ?? "";
        assert.match(renamed, /^- nginx \(aws:ec2\/instance:Instance\) → nginx-1$/m);
        assert.match(renamed, /^- router-nginx \(command:remote:Command\) → router-nginx-1$/m);
    });

    it("no change: the same config on both sides changes no nginx line", async () => {
        const { text, code } = await offlinePreview(
            checkout("base", productionYaml()),
            checkout("head", productionYaml()),
        );
        assert.equal(code, 0, text);
        assert.match(text, /^Live pool: blue \(unchanged\)$/m);
        assert.match(text, /^The nginx config does not change\.$/m);
    });

    it("a change the safety rules refuse against the base's outputs fails, quoting the refusal", async () => {
        const base = checkout("base", productionYaml());
        const head = checkout("head", productionYaml(['  bluegreen:blueVersion: "1.1.0"']));
        const { text, code } = await offlinePreview(base, head);
        assert.equal(code, 1);
        assert.match(text, /The program refuses production's config as this pull request leaves it/);
        assert.match(text, /blueVersion changes the blue release from 1\.0\.0 to 1\.1\.0, but blue is the live pool/);
    });

    it("a base that cannot be rendered is said so, and the head is compared with nothing", async () => {
        const base = checkout("base", productionYaml().replace(PUBLIC_KEY, "ssh-ed25519 AAAA... deploy"));
        const { text, code } = await offlinePreview(base, checkout("head", productionYaml()));
        assert.equal(code, 0, text);
        assert.match(text, /The base branch could not be rendered, so nothing is compared with it: .*awsPublicKey/);
        assert.match(text, /^\+ +upstream pool_blue \{$/m);
    });
});
