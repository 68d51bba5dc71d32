import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../components/config";
import { selfSignedCertificate } from "../support/nginxCheck";

const TOKEN = "test-token-0123456789";

function problemsOf(raw: Record<string, string | undefined>): string[] {
    try {
        parseConfig("bluegreen", raw);
    } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
    }
    assert.fail(`expected a ConfigError for ${JSON.stringify(raw)}`);
}

describe("config validation", () => {
    it("accepts blue and green and defaults target to local", () => {
        const config = parseConfig("bluegreen", { activeColor: "green", drainToken: TOKEN });
        assert.equal(config.activeColor, "green");
        assert.equal(config.target, "local");
    });

    it("the ssh target needs its machines and key, each machine in one role", () => {
        const missing = problemsOf({ activeColor: "blue", target: "ssh", drainToken: TOKEN });
        assert.ok(
            missing.some((p) =>
                /bluegreen:sshPrivateKey is not set\. Fix: pulumi config set --secret sshPrivateKey/.test(p),
            ),
            missing.join("\n"),
        );
        const key =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        const ssh = {
            activeColor: "blue",
            target: "ssh",
            drainToken: TOKEN,
            sshPrivateKey: key,
            nginxSshHost: JSON.stringify({
                address: "10.0.0.10",
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F",
            }),
            blueSshHosts: JSON.stringify([
                { address: "10.0.1.11" },
                { address: "blue-2.internal", port: 2222, user: "deploy" },
            ]),
            greenSshHosts: JSON.stringify([{ address: "10.0.2.11" }]),
        };
        const config = parseConfig("bluegreen", ssh);
        assert.ok(config.target === "ssh");
        assert.deepEqual(
            config.blueSshHosts.map((h) => h.address),
            ["10.0.1.11", "blue-2.internal"],
        );
        const shared = problemsOf({ ...ssh, greenSshHosts: JSON.stringify([{ address: "10.0.1.11" }]) });
        assert.match(shared.join("\n"), /bluegreen:greenSshHosts lists 10\.0\.1\.11, which blueSshHosts lists too/);
        const injected = problemsOf({ ...ssh, blueSshHosts: JSON.stringify([{ address: "10.0.1.11; rm -rf /" }]) });
        assert.match(
            injected.join("\n"),
            /bluegreen:blueSshHosts has the invalid value .*address must be an IPv4 address or a host name/,
        );
        const typo = problemsOf({ ...ssh, nginxSshHost: JSON.stringify({ adress: "10.0.0.10" }) });
        assert.match(typo.join("\n"), /bluegreen:nginxSshHost has the invalid value/);
        // The routers: one machine (nginxSshHost) or a list (nginxSshHosts), never neither nor both.
        const { nginxSshHost, ...noRouter } = ssh;
        assert.match(
            problemsOf(noRouter).join("\n"),
            /bluegreen:nginxSshHost is not set \(nor nginxSshHosts\).*Fix: pulumi config set --path 'nginxSshHost/,
        );
        const routers = JSON.stringify([{ address: "10.0.0.10" }, { address: "10.0.0.11" }]);
        const two = parseConfig("bluegreen", { ...noRouter, nginxSshHosts: routers });
        assert.ok(two.target === "ssh");
        assert.deepEqual(
            two.nginxSshHosts.map((h) => h.address),
            ["10.0.0.10", "10.0.0.11"],
        );
        assert.match(
            problemsOf({ ...ssh, nginxSshHosts: routers }).join("\n"),
            /bluegreen:nginxSshHost and bluegreen:nginxSshHosts are both set.*Fix: pulumi config rm nginxSshHost/,
        );
        const logins = JSON.stringify([{ address: "10.0.0.10" }, { address: "10.0.0.11", user: "deploy" }]);
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: logins }).join("\n"),
            /bluegreen:nginxSshHosts logs in as root and deploy/,
        );
        const routerInPool = JSON.stringify([{ address: "10.0.0.10" }, { address: "10.0.1.11" }]);
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: routerInPool }).join("\n"),
            /bluegreen:blueSshHosts lists 10\.0\.1\.11, which nginxSshHosts lists too/,
        );
        assert.ok(nginxSshHost);
        const acme = { acmeDirectoryUrl: "https://ca.example.test/dir", acmeEmail: "ops@example.test" };
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: routers, ...acme, hostNames: '["shop.example.test"]' }).join("\n"),
            /bluegreen:acmeDirectoryUrl is set with 2 routers/,
        );
        // A floating address: several routers by IPv4 address, root on each, an address of its own.
        const vip = JSON.stringify({ address: "10.0.0.100" });
        assert.doesNotThrow(() => parseConfig("bluegreen", { ...noRouter, nginxSshHosts: routers, virtualIp: vip }));
        // One router may hold it alone (while another is replaced).
        assert.doesNotThrow(() => parseConfig("bluegreen", { ...ssh, virtualIp: vip }));
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: routers, virtualIp: vip, sshUser: "deploy" }).join("\n"),
            /bluegreen:virtualIp needs keepalived to run as root on the routers, which log in as deploy/,
        );
        const named = JSON.stringify([{ address: "10.0.0.10" }, { address: "router-2.internal" }]);
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: named, virtualIp: vip }).join("\n"),
            /bluegreen:nginxSshHosts names router-2\.internal: with virtualIp/,
        );
        const taken = JSON.stringify({ address: "10.0.0.11" });
        assert.match(
            problemsOf({ ...noRouter, nginxSshHosts: routers, virtualIp: taken }).join("\n"),
            /bluegreen:virtualIp is 10\.0\.0\.11, which a machine of the stack already has/,
        );
        const badKey = problemsOf({ ...ssh, sshPrivateKey: "not a key" });
        assert.match(badKey.join("\n"), /bluegreen:sshPrivateKey has the invalid value \(secret, not shown\)/);
        assert.doesNotMatch(badKey.join("\n"), /not a key/);
    });

    it("names the key, the bad value and the allowed values for activeColor: purple", () => {
        const [message] = problemsOf({ activeColor: "purple", drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColor/);
        assert.match(message, /"purple"/);
        assert.match(message, /must be one of blue, green/);
        assert.match(message, /Fix: pulumi config set activeColor/);
    });

    it("refuses a missing activeColor instead of guessing a live pool", () => {
        const [message] = problemsOf({ drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColor is not set/);
    });

    it("reports every bad key at once, not only the first", () => {
        const problems = problemsOf({ activeColor: "Blue", target: "k8s", drainToken: TOKEN });
        assert.equal(problems.length, 2);
        assert.match(problems[1], /bluegreen:target has the invalid value "k8s": must be one of local, ssh, aws/);
    });

    it("refuses listener ports that collide with each other or with an app host", () => {
        const [same] = problemsOf({ activeColor: "blue", drainToken: TOKEN, publicPort: "9000", internalPort: "9000" });
        assert.match(same, /bluegreen:publicPort and bluegreen:internalPort are both 9000/);
        const [app] = problemsOf({ activeColor: "blue", drainToken: TOKEN, publicPort: "9101" });
        assert.match(
            app,
            /bluegreen:publicPort is 9101, which an app host also uses .* Fix: pulumi config set appBasePort 9301/,
        );
        const { cert, key } = selfSignedCertificate();
        const tls = { activeColor: "blue", drainToken: TOKEN, tlsCertificate: cert, tlsKey: key };
        const [https] = problemsOf({ ...tls, httpsPort: "8080" });
        assert.match(https, /bluegreen:httpsPort is 8080, which another listener of nginx uses .*httpsPort 8443/);
        const [httpsApp] = problemsOf({ ...tls, httpsPort: "9102" });
        assert.match(httpsApp, /bluegreen:httpsPort is 9102, which an app host also uses/);
        assert.doesNotThrow(() => parseConfig("bluegreen", { ...tls, httpsPort: "8443" }));
        // The redirect and HSTS need HTTPS.
        const [redirect, hsts] = problemsOf({
            activeColor: "blue",
            drainToken: TOKEN,
            httpsRedirect: "true",
            hstsMaxAgeSeconds: "600",
        });
        assert.match(redirect, /bluegreen:httpsRedirect needs HTTPS, which is off .*pulumi config rm httpsRedirect/);
        assert.match(hsts, /bluegreen:hstsMaxAgeSeconds needs HTTPS/);
        assert.doesNotThrow(() =>
            parseConfig("bluegreen", { ...tls, httpsPort: "8443", httpsRedirect: "true", hstsMaxAgeSeconds: "600" }),
        );
        assert.doesNotThrow(() =>
            parseConfig("bluegreen", { activeColor: "blue", drainToken: TOKEN, httpsPort: "8080" }),
        );
    });

    it("ACME: names and an address to ask for, one source of certificates, its keys only with it", () => {
        const base = { activeColor: "blue", drainToken: TOKEN };
        const acme = { ...base, acmeDirectoryUrl: "https://ca.example.test/dir", httpsPort: "8443" };
        const [names, email] = problemsOf(acme);
        assert.match(names, /bluegreen:acmeDirectoryUrl is set, but hostNames is empty.*hostNames\[0\]/);
        assert.match(email, /bluegreen:acmeDirectoryUrl is set, but acmeEmail is not.*acmeEmail ops@example.com/);
        const named = { ...acme, hostNames: '["shop.example.test"]', acmeEmail: "ops@example.test" };
        assert.doesNotThrow(() =>
            parseConfig("bluegreen", { ...named, httpsRedirect: "true", hstsMaxAgeSeconds: "60" }),
        );
        const { cert, key } = selfSignedCertificate();
        const [both] = problemsOf({ ...named, tlsCertificate: cert, tlsKey: key });
        assert.match(both, /certificates come from one place. Fix: pulumi config rm tlsCertificate/);
        const [alone] = problemsOf({ ...base, acmeEmail: "ops@example.test" });
        assert.match(alone, /bluegreen:acmeEmail is set, but ACME is off .*pulumi config rm acmeEmail/);
        const [port] = problemsOf({ ...named, httpsPort: "8080" });
        assert.match(port, /bluegreen:httpsPort is 8080, which another listener of nginx uses/);
    });

    it("the bake needs no-reload mode (the metrics), and takes percentages with up to two decimals", () => {
        const [refused] = problemsOf({
            activeColor: "blue",
            drainToken: TOKEN,
            switchMode: "reload",
            bakeSeconds: "30",
        });
        assert.match(refused, /bluegreen:bakeSeconds is 30, but the bake reads nginx's metrics by colour/);
        assert.match(refused, /Fix: pulumi config set switchMode no-reload, or pulumi config set bakeSeconds 0/);
        const config = parseConfig("bluegreen", { activeColor: "blue", drainToken: TOKEN, bakeMax5xxPercent: "0.5" });
        assert.equal(config.bakeMax5xxPercent, 0.5);
        assert.equal(config.bakeSeconds, 0, "off by default");
        const [bad] = problemsOf({ activeColor: "blue", drainToken: TOKEN, bakeMax5xxPercent: "150" });
        assert.match(bad, /bakeMax5xxPercent has the invalid value "150": must be at most 100/);
    });

    it("a canary needs no-reload mode (nginx picks each client's pool in shared memory)", () => {
        const [refused] = problemsOf({
            activeColor: "blue",
            drainToken: TOKEN,
            switchMode: "reload",
            canaryPercent: "10",
        });
        assert.match(refused, /bluegreen:canaryPercent is 10, but a canary picks each client's pool/);
        assert.match(refused, /Fix: pulumi config set switchMode no-reload, or pulumi config set canaryPercent 0/);
        assert.equal(parseConfig("bluegreen", { activeColor: "blue", drainToken: TOKEN }).canaryPercent, 0);
    });

    it("refuses a key of another target, naming the targets that read it", () => {
        const [local] = problemsOf({ activeColor: "blue", drainToken: TOKEN, sshUser: "deploy" });
        assert.match(local, /bluegreen:sshUser is read only by the ssh target, and this stack's target is local/);
        assert.match(local, /Fix: pulumi config rm sshUser/);
        const [remote] = problemsOf({ activeColor: "blue", drainToken: TOKEN, appPort: "3000" });
        assert.match(remote, /bluegreen:appPort is read only by the ssh and aws targets/);
        const ssh = problemsOf({ activeColor: "blue", drainToken: TOKEN, target: "ssh", appBasePort: "9100" });
        assert.ok(
            ssh.some((p) =>
                /bluegreen:appBasePort is read only by the local target, and this stack's target is ssh/.test(p),
            ),
            ssh.join("\n"),
        );
    });

    it("defaults publicAddress by target: loopback locally, every address on a remote nginx host", () => {
        assert.equal(parseConfig("bluegreen", { activeColor: "blue", drainToken: TOKEN }).publicAddress, "127.0.0.1");
        const aws = {
            activeColor: "blue",
            drainToken: TOKEN,
            target: "aws",
            sshPrivateKey:
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            awsPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F deploy",
            adminCidr: "203.0.113.0/24",
        };
        assert.equal(parseConfig("bluegreen", aws).publicAddress, "0.0.0.0");
    });

    it("flags a key that nothing reads, so a typo does not pass silently", () => {
        const [message] = problemsOf({ activeColor: "blue", activeColour: "green", drainToken: TOKEN });
        assert.match(message, /bluegreen:activeColour is not a key this program reads/);
        assert.match(message, /pulumi config rm activeColour/);
    });
});
