// Hardening of the config boundary: for every key the program reads, values of the wrong
// type, out of range, empty, and carrying injection attempts (; } newline $(…) backticks
// quotes non-ASCII) fail at validation with a message naming the key and the fix, and the
// program registers nothing (nothing renders, nothing runs). Then a property test: random
// valid configs are accepted, rendered, and pass a real `nginx -t`.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { ALL_KEYS, ConfigError, parseConfig } from "../../components/config";
import { renderNginxConfig } from "../../components/nginxConfig";
import { ProgramRefused, registered, runProgram } from "../support/mocks";
import { nginxTest, selfSignedCertificate } from "../support/nginxCheck";
import { recordOutcome } from "../../scripts/lib/reliability";

const TOKEN = "test-token-0123456789";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F deploy";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3J0\n-----END CERTIFICATE-----\n";

/** What an attacker (or a typo) puts into a value. */
const INJECTIONS = [";", "}", "\n", "$(id)", "`id`", "'", '"', "é", " ; rm -rf /"];

type Kind = "enum" | "integer" | "string" | "json";

/** A valid value for each key, the kind of value it is, and (for numbers) its range. */
const VALID: Record<
    string,
    {
        value: string;
        kind: Kind;
        range?: [number, number];
        inject?: (bad: string) => string;
        pem?: true;
        emptyAllowed?: true;
    }
> = {
    activeColor: { value: "blue", kind: "enum" },
    target: { value: "local", kind: "enum" },
    switchMode: { value: "reload", kind: "enum" },
    blueVersion: { value: "1.2.3", kind: "string" },
    greenVersion: { value: "1.2.3", kind: "string" },
    blueArtifact: { value: "bin/app", kind: "string" },
    greenArtifact: { value: "bin/app", kind: "string" },
    appStartCommand: { value: "node server.js", kind: "string" },
    blueHosts: { value: "2", kind: "integer", range: [0, 50] },
    greenHosts: { value: "2", kind: "integer", range: [0, 50] },
    publicAddress: { value: "127.0.0.1", kind: "string" },
    publicPort: { value: "8080", kind: "integer", range: [1, 65535] },
    internalPort: { value: "8081", kind: "integer", range: [1024, 65535] },
    appBasePort: { value: "9100", kind: "integer", range: [1024, 65300] },
    stateDir: { value: ".state/local", kind: "string" },
    gateTimeoutSeconds: { value: "30", kind: "integer", range: [1, 600] },
    healthIntervalMs: { value: "200", kind: "integer", range: [50, 5000] },
    drainTimeoutSeconds: { value: "30", kind: "integer", range: [1, 600] },
    smokePaths: { value: '["/"]', kind: "json", inject: (bad) => JSON.stringify([`/${bad}`]) },
    privatePaths: { value: '["/status"]', kind: "json", inject: (bad) => JSON.stringify([`/status${bad}`]) },
    httpsPort: { value: "8443", kind: "integer", range: [1, 65535] },
    httpsRedirect: { value: "false", kind: "enum" },
    hstsMaxAgeSeconds: { value: "0", kind: "integer", range: [0, 63072000] },
    hostNames: {
        value: '["shop.example.test", "www.shop.example.test"]',
        kind: "json",
        inject: (bad) => JSON.stringify([`shop.example.test${bad}`]),
    },
    blueSshHosts: {
        value: '[{"address":"10.0.1.11"}]',
        kind: "json",
        emptyAllowed: true,
        inject: (bad) => JSON.stringify([{ address: `10.0.1.11${bad}` }]),
    },
    greenSshHosts: {
        value: '[{"address":"10.0.2.11"}]',
        kind: "json",
        emptyAllowed: true,
        inject: (bad) => JSON.stringify([{ address: "10.0.2.11", user: `deploy${bad}` }]),
    },
    nginxSshHost: {
        value: '{"address":"10.0.0.10"}',
        kind: "json",
        inject: (bad) =>
            JSON.stringify({
                address: "10.0.0.10",
                hostKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFbE3Wd0VZ0x8Yc6b1r7n7mO8w0T0q2Z6Vd3sV0cQ2F${bad}`,
            }),
    },
    nginxSshHosts: {
        value: '[{"address":"10.0.0.10"},{"address":"10.0.0.11"}]',
        kind: "json",
        emptyAllowed: true,
        inject: (bad) => JSON.stringify([{ address: "10.0.0.10" }, { address: `10.0.0.11${bad}` }]),
    },
    virtualIp: {
        value: '{"address":"10.0.0.100","prefixLength":24,"interface":"eth0","virtualRouterId":51}',
        kind: "json",
        inject: (bad) => JSON.stringify({ address: "10.0.0.100", interface: `eth0${bad}` }),
    },
    sshUser: { value: "deploy", kind: "string" },
    sshPrivateKey: { value: KEY, kind: "string", pem: true, inject: (bad) => KEY.replace("AAAAA", `AA${bad}AAA`) },
    sshDialAttempts: { value: "3", kind: "integer", range: [1, 20] },
    sshDialTimeoutSeconds: { value: "10", kind: "integer", range: [1, 120] },
    appPort: { value: "3000", kind: "integer", range: [1024, 65535] },
    remoteDir: { value: "/srv/bluegreen", kind: "string" },
    supervisor: { value: "auto", kind: "enum" },
    awsPublicKey: { value: PUBLIC_KEY, kind: "string" },
    adminCidr: { value: "203.0.113.0/24", kind: "string" },
    publicCidrs: { value: '["0.0.0.0/0"]', kind: "json", inject: (bad) => JSON.stringify([`0.0.0.0/0${bad}`]) },
    awsVpcCidr: { value: "10.20.0.0/16", kind: "string" },
    awsVpcId: { value: "vpc-0123456789abcdef0", kind: "string" },
    awsPublicSubnetIds: {
        value: '["subnet-00000000000000001"]',
        kind: "json",
        inject: (bad) => JSON.stringify([`subnet-00000000000000001${bad}`]),
    },
    awsPrivateSubnetIds: {
        value: '["subnet-00000000000000011"]',
        kind: "json",
        inject: (bad) => JSON.stringify([`subnet-00000000000000011${bad}`]),
    },
    awsAvailabilityZones: {
        value: '["eu-west-1a","eu-west-1b"]',
        kind: "json",
        inject: (bad) => JSON.stringify(["eu-west-1a", `eu-west-1b${bad}`]),
    },
    awsAmiNameFilter: { value: "debian-12-amd64-*", kind: "string" },
    awsAmiOwner: { value: "136693071363", kind: "string" },
    awsRouters: { value: "2", kind: "integer", range: [1, 2] },
    nginxInstanceType: { value: "t3.micro", kind: "string" },
    blueInstanceType: { value: "t3.small", kind: "string" },
    greenInstanceType: { value: "t3.small", kind: "string" },
    clientConnectionLimit: { value: "256", kind: "integer", range: [0, 100000] },
    clientRequestRate: { value: "100", kind: "integer", range: [0, 100000] },
    tlsCertificate: { value: CERT, kind: "string", pem: true, inject: (bad) => CERT.replace("MIIB", `MI${bad}IB`) },
    tlsKey: { value: KEY, kind: "string", pem: true, inject: (bad) => KEY.replace("AAAAA", `AA${bad}AAA`) },
    acmeDirectoryUrl: { value: "https://acme-v02.api.letsencrypt.org/directory", kind: "string" },
    acmeEmail: { value: "ops@example.com", kind: "string" },
    acmeCaCertificate: { value: CERT, kind: "string", pem: true, inject: (bad) => CERT.replace("MIIB", `MI${bad}IB`) },
    acmeRenewDays: { value: "30", kind: "integer", range: [1, 60] },
    maintenance: { value: "false", kind: "enum" },
    maintenanceRetryAfterSeconds: { value: "300", kind: "integer", range: [1, 86400] },
    maintenancePage: { value: "templates/nginx/maintenance.html", kind: "string", emptyAllowed: true },
    preSwitchCommand: { value: "node migrate.js", kind: "string", emptyAllowed: true },
    postSwitchCommand: { value: "./notify-deploy.sh", kind: "string", emptyAllowed: true },
    hookTimeoutSeconds: { value: "300", kind: "integer", range: [1, 3600] },
    canaryPercent: { value: "0", kind: "integer", range: [0, 100] },
    bakeSeconds: { value: "0", kind: "integer", range: [0, 3600] },
    bakeMax5xxPercent: { value: "1", kind: "string" },
    bakeMaxP99Ms: { value: "0", kind: "integer", range: [0, 600000] },
    bakeMinRequests: { value: "100", kind: "integer", range: [1, 1000000] },
    drainToken: { value: TOKEN, kind: "string" },
};

const SECRET = new Set(["drainToken", "sshPrivateKey", "tlsKey", "tlsCertificate"]);

/** A valid stack of each target, for a key to be tried on a target that reads it. */
const BASE: Record<string, Record<string, string>> = {
    local: { activeColor: "blue", drainToken: TOKEN },
    ssh: {
        activeColor: "blue",
        drainToken: TOKEN,
        target: "ssh",
        sshPrivateKey: KEY,
        nginxSshHost: '{"address":"10.0.0.10"}',
        blueSshHosts: '[{"address":"10.0.1.11"}]',
    },
    aws: {
        activeColor: "blue",
        drainToken: TOKEN,
        target: "aws",
        sshPrivateKey: KEY,
        awsPublicKey: PUBLIC_KEY,
        adminCidr: "203.0.113.0/24",
    },
};

function problemsFor(key: string, value: string): string[] {
    try {
        parseConfig("bluegreen", { ...BASE[ALL_KEYS[key].targets[0]], [key]: value });
    } catch (err) {
        if (err instanceof ConfigError) return [...err.problems];
        throw err;
    }
    return [];
}

/** The bad values tried for one key. */
function badValues(key: string): { what: string; value: string }[] {
    const spec = VALID[key];
    const bad: { what: string; value: string }[] = [];
    if (spec.kind === "integer") {
        const [min, max] = spec.range!;
        bad.push(
            { what: "wrong type", value: "eighty" },
            { what: "below range", value: String(min - 1) },
            { what: "above range", value: String(max + 1) },
            { what: "fraction", value: `${min}.5` },
        );
    } else if (spec.kind === "enum") {
        bad.push({ what: "not one of the choices", value: "purple" });
    } else if (spec.kind === "json") {
        bad.push({ what: "wrong type", value: "not json" }, { what: "wrong type", value: "42" });
        // (An empty host list is a pool without hosts, which is allowed.)
        if (spec.value.startsWith("[") && !spec.emptyAllowed) bad.push({ what: "empty list", value: "[]" });
    } else {
        bad.push({ what: "wrong type", value: '{"a": 1}' });
    }
    // A PEM text is lines by nature: a newline in it is not an injection.
    for (const injection of INJECTIONS.filter((i) => !(spec.pem && i === "\n"))) {
        bad.push({
            what: `injection ${JSON.stringify(injection)}`,
            value: spec.inject ? spec.inject(injection) : `${spec.value}${injection}`,
        });
    }
    return bad;
}

describe("bad config: every key, every kind of bad value, is refused naming the key and the fix", () => {
    it("every key the program reads has a valid sample here (none forgotten)", () => {
        assert.deepEqual(Object.keys(VALID).sort(), Object.keys(ALL_KEYS).sort());
    });

    it("each valid sample is accepted on its own", () => {
        for (const [key, spec] of Object.entries(VALID)) {
            if (
                [
                    "target",
                    "blueSshHosts",
                    "greenSshHosts",
                    "nginxSshHost",
                    "nginxSshHosts",
                    "virtualIp",
                    "awsVpcId",
                    "awsPublicSubnetIds",
                    "awsPrivateSubnetIds",
                    "tlsCertificate",
                    "tlsKey",
                    "publicPort",
                    "acmeDirectoryUrl",
                    "acmeEmail",
                    "acmeCaCertificate",
                ].includes(key)
            )
                continue; // need companions (checked below)
            assert.deepEqual(problemsFor(key, spec.value), [], `${key}=${JSON.stringify(spec.value)} is valid`);
        }
    });

    for (const key of Object.keys(ALL_KEYS)) {
        it(`${key}: wrong type, out of range, empty and injected values fail with the key and the fix`, () => {
            let tried = 0;
            for (const { what, value } of badValues(key)) {
                const problems = problemsFor(key, value);
                const mine = problems.find((p) => p.startsWith(`bluegreen:${key} has the invalid value`));
                assert.ok(
                    mine,
                    `${key} ${what} (${JSON.stringify(value)}) was accepted; problems: ${problems.join(" | ")}`,
                );
                assert.match(mine, /Fix: /, `${key} ${what}: the message says what to do`);
                if (SECRET.has(key))
                    assert.ok(!mine.includes(value), `${key}: a secret's value never appears in the message`);
                tried++;
            }
            recordOutcome({
                area: "bad config",
                fault:
                    `${key}: ${tried} bad values ` +
                    `(wrong type, range, empty, ; } newline $(…) backticks quotes non-ASCII)`,
                expected: "refused at preview naming the key and the fix; nothing registered",
                observed: `all ${tried} refused with the key and a fix`,
                sent: 0,
                lost: 0,
            });
        });
    }

    it("hostNames: upper case, a name listed twice and a wildcard are refused, saying why", () => {
        for (const [value, why] of [
            ['["Shop.example.test"]', /must be a host name in lower case/],
            ['["shop.example.test", "shop.example.test"]', /must not list a name twice/],
            ['["*.example.test"]', /must be a host name in lower case/],
        ] as const) {
            const mine = problemsFor("hostNames", value).find((p) => p.startsWith("bluegreen:hostNames has"));
            assert.match(mine ?? "(accepted)", why, value);
            assert.match(mine!, /pulumi config set --path 'hostNames\[0\]' shop\.example\.com/);
        }
    });

    it("the program registers nothing when a value is bad: nothing renders and nothing runs", async () => {
        for (const [key, value] of [
            ["publicPort", "80;"],
            ["smokePaths", '["/$(id)"]'],
            ["appStartCommand", "node server.js; curl evil"],
            ["blueVersion", "1.0`id`"],
        ] as const) {
            await assert.rejects(
                runProgram({ activeColor: "blue", drainToken: TOKEN, [key]: value }),
                (err: unknown) => {
                    assert.ok(err instanceof ProgramRefused, `${key}: refused`);
                    assert.match(err.message, new RegExp(`bluegreen:${key} has the invalid value`));
                    return true;
                },
            );
            assert.deepEqual(
                registered.filter((r) => !r.type.startsWith("pulumi:")),
                [],
                `${key}: no resource was registered`,
            );
        }
    });
});

describe("maintenancePage: a file the program can read, small enough to travel", () => {
    it("a missing, empty or too large page is refused naming the key and the fix; nothing is registered", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-page-"));
        try {
            fs.writeFileSync(path.join(dir, "empty.html"), "");
            fs.writeFileSync(path.join(dir, "big.html"), "x".repeat(70 * 1024));
            for (const [file, why] of [
                [path.join(dir, "missing.html"), /cannot be read as a file \(ENOENT\)/],
                [path.join(dir, "empty.html"), /an empty file/],
                [path.join(dir, "big.html"), /71680 bytes long; the page may have at most 65536/],
            ] as const) {
                await assert.rejects(
                    runProgram({ activeColor: "blue", drainToken: TOKEN, maintenancePage: file }),
                    (err: unknown) => {
                        assert.ok(err instanceof ProgramRefused, `${file}: refused`);
                        assert.match(err.message, /bluegreen:maintenancePage is "/);
                        assert.match(err.message, why);
                        assert.match(err.message, /Fix: pulumi config set maintenancePage .*pulumi config rm/);
                        return true;
                    },
                );
                assert.deepEqual(
                    registered.filter((r) => !r.type.startsWith("pulumi:")),
                    [],
                    file,
                );
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("the page reaches the switch: the configured file, else the project's default", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-page-"));
        try {
            const page = path.join(dir, "page.html");
            fs.writeFileSync(page, "<p>our own page</p>\n");
            const switchOf = async (config: Record<string, string>) => {
                const { resources } = await runProgram({ activeColor: "blue", drainToken: TOKEN, ...config });
                const router = resources.find((r) => r.name === "router-nginx");
                // The environment holds secrets, so the mocks see it wrapped ({ value }).
                const env = (router?.inputs.environment ?? {}) as Record<string, unknown>;
                return ("value" in env ? env.value : env) as Record<string, string>;
            };
            const own = await switchOf({ maintenancePage: page, maintenance: "true" });
            assert.equal(own.BLUEGREEN_MAINTENANCE_PAGE, "<p>our own page</p>\n");
            assert.equal(own.BLUEGREEN_MAINTENANCE, "on");
            const fallback = await switchOf({});
            assert.match(fallback.BLUEGREEN_MAINTENANCE_PAGE, /<title>Down for maintenance<\/title>/);
            assert.equal(fallback.BLUEGREEN_MAINTENANCE, "off");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("property: random valid configs render into nginx configs that a real nginx -t accepts", function () {
    const port = fc.integer({ min: 1024, max: 60000 });
    const urlPath = fc.stringMatching(/^\/[A-Za-z0-9._~/-]{0,30}$/);
    const ipv4 = fc
        .tuple(
            fc.integer({ min: 1, max: 254 }),
            fc.integer({ min: 0, max: 255 }),
            fc.integer({ min: 0, max: 255 }),
            fc.integer({ min: 1, max: 254 }),
        )
        .map((p) => p.join("."));

    it("parseConfig accepts them; the rendered config passes nginx -t; no client header picks a pool", () => {
        let runs = 0;
        fc.assert(
            fc.property(
                fc.record({
                    activeColor: fc.constantFrom("blue", "green"),
                    switchMode: fc.constantFrom("no-reload", "reload"),
                    blueHosts: fc.integer({ min: 1, max: 6 }),
                    greenHosts: fc.integer({ min: 1, max: 6 }),
                    publicAddress: fc.oneof(fc.constant("127.0.0.1"), fc.constant("0.0.0.0")),
                    ports: fc.uniqueArray(port, { minLength: 2, maxLength: 2 }),
                    drainTimeoutSeconds: fc.integer({ min: 1, max: 600 }),
                    smokePaths: fc.array(urlPath, { minLength: 1, maxLength: 4 }),
                    privatePaths: fc.array(urlPath, { minLength: 1, maxLength: 4 }),
                    upstreamHosts: fc.array(ipv4, { minLength: 12, maxLength: 12 }),
                    tls: fc.boolean(),
                }),
                (input) => {
                    const raw = {
                        activeColor: input.activeColor,
                        switchMode: input.switchMode,
                        blueHosts: String(input.blueHosts),
                        greenHosts: String(input.greenHosts),
                        publicAddress: input.publicAddress,
                        publicPort: String(input.ports[0]),
                        internalPort: String(input.ports[1]),
                        appBasePort: "61000",
                        drainTimeoutSeconds: String(input.drainTimeoutSeconds),
                        smokePaths: JSON.stringify(input.smokePaths),
                        privatePaths: JSON.stringify(input.privatePaths),
                        drainToken: TOKEN,
                    };
                    const config = parseConfig("bluegreen", raw);
                    assert.ok(config.target === "local");
                    const hostsOf = (count: number, offset: number) =>
                        input.upstreamHosts
                            .slice(offset, offset + count)
                            .map((address, i) => ({ address, port: 61001 + offset + i }));
                    const rendered = renderNginxConfig({
                        prefix: "/PREFIX",
                        switchMode: config.switchMode,
                        liveColor: config.activeColor,
                        pools: { blue: hostsOf(config.blueHosts, 0), green: hostsOf(config.greenHosts, 6) },
                        publicAddress: config.publicAddress,
                        publicPort: config.publicPort,
                        internalAddress: "127.0.0.1",
                        internalPort: config.internalPort,
                        workerShutdownTimeoutSeconds: config.drainTimeoutSeconds + 5,
                        privatePaths: config.privatePaths,
                        tls: input.tls ? { port: 443, fingerprint: "0123456789abcdef" } : undefined,
                    });
                    const complaint = nginxTest(
                        rendered.text.replace(/:443 ssl /, `:${input.ports[0] === 60001 ? 60002 : 60001} ssl `),
                        "/PREFIX",
                        input.tls ? selfSignedCertificate() : undefined,
                    );
                    assert.equal(complaint, "", `nginx -t refused a valid config: ${complaint}`);
                    assert.doesNotMatch(rendered.text, /\$http_x_deploy_color/i, "no client header selects a pool");
                    runs++;
                },
            ),
            { numRuns: 60 },
        );
        recordOutcome({
            area: "bad config",
            fault: `${runs} random valid configs (property test, fast-check)`,
            expected: "accepted, rendered, pass a real nginx -t",
            observed: `all ${runs} passed nginx -t`,
            sent: 0,
            lost: 0,
        });
    });
});
